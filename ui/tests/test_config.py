"""Configuration: flags over environment over defaults, and the generated storage secret."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from paastech_ui.config import (
    DEFAULT_API_URL,
    ConfigError,
    UiConfig,
    load_config,
    storage_secret,
)


@pytest.mark.parametrize(
    ("argv", "environ", "expected"),
    [
        ([], {}, (DEFAULT_API_URL, "127.0.0.1", 8080)),
        (
            [],
            {
                "PAASTECH_API_URL": "http://gw:9000/",
                "PAASTECH_UI__HOST": "0.0.0.0",  # noqa: S104 - a value under test, not a bind
                "PAASTECH_UI__PORT": "9090",
            },
            ("http://gw:9000", "0.0.0.0", 9090),  # noqa: S104 - same
        ),
        (
            ["--api-url", "https://api.example.com", "--host", "::1", "--port", "7000"],
            {"PAASTECH_API_URL": "http://gw:9000", "PAASTECH_UI__PORT": "9090"},
            ("https://api.example.com", "::1", 7000),
        ),
    ],
)
def test_precedence(
    argv: list[str], environ: dict[str, str], expected: tuple[str, str, int]
) -> None:
    """Flags win over the environment, which wins over the defaults."""
    config = load_config(argv, environ)
    assert (config.api_url, config.host, config.port) == expected


@pytest.mark.parametrize(
    ("argv", "environ"),
    [
        (["--api-url", "127.0.0.1:8000"], {}),
        ([], {"PAASTECH_UI__PORT": "eighty"}),
        (["--port", "70000"], {}),
        ([], {"PAASTECH_UI_STORAGE_SECRET_FILE": "/nonexistent/secret"}),
    ],
)
def test_unusable_values_are_errors(argv: list[str], environ: dict[str, str]) -> None:
    """A URL without scheme, a bad port or an unreadable secret file is refused."""
    with pytest.raises(ConfigError):
        load_config(argv, environ)


def test_secret_from_environment_or_file(tmp_path: Path) -> None:
    """The storage secret comes from the variable, else from the file it names."""
    secret_file = tmp_path / "secret"
    secret_file.write_text("from-file\n")
    by_file = load_config([], {"PAASTECH_UI_STORAGE_SECRET_FILE": str(secret_file)})
    assert storage_secret(by_file) == "from-file"
    by_env = load_config(
        [],
        {
            "PAASTECH_UI_STORAGE_SECRET": "from-env",
            "PAASTECH_UI_STORAGE_SECRET_FILE": str(secret_file),
        },
    )
    assert storage_secret(by_env) == "from-env"


def test_generated_secret_is_private_and_kept(tmp_path: Path) -> None:
    """Without a secret one is generated into a 0600 file in a 0700 folder, then reused."""
    config = UiConfig(state_dir=tmp_path / "state")
    first = storage_secret(config)
    path = tmp_path / "state" / "storage-secret"
    assert len(first) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert storage_secret(config) == first
