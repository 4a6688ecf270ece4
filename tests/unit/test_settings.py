"""Settings: precedence, errors that name the key, and secrets read from files."""

from __future__ import annotations

from pathlib import Path

import pytest

from paastech.errors import InvalidSettings
from paastech.settings import load_settings


def _toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "paastech.toml"
    path.write_text(text)
    return path


def test_defaults_are_the_dev_profile() -> None:
    """With nothing configured every address is the documented loopback default."""
    s = load_settings({})

    assert (s.gateway.host, s.gateway.port) == ("127.0.0.1", 8000)
    assert (s.forge.host, s.forge.port) == ("127.0.0.1", 2222)
    assert (s.fabio.proxy_addr, s.fabio.ui_addr) == ("127.0.0.1:9999", "127.0.0.1:9998")
    assert s.registry.address == "127.0.0.1:5000"
    assert s.nomad.address == "http://127.0.0.1:4646"
    assert (s.ui.host, s.ui.port) == ("127.0.0.1", 8080)
    assert s.apps.domain == "apps.localhost"
    assert s.state_dir == ".paastech"


@pytest.mark.parametrize(
    ("toml", "environ", "overrides", "expected"),
    [
        ("", {}, None, 8000),
        ("[gateway]\nport = 8100\n", {}, None, 8100),
        ("[gateway]\nport = 8100\n", {"PAASTECH_GATEWAY__PORT": "8200"}, None, 8200),
        (
            "[gateway]\nport = 8100\n",
            {"PAASTECH_GATEWAY__PORT": "8200"},
            {"gateway": {"port": 8300}},
            8300,
        ),
        ("", {"PAASTECH_GATEWAY__PORT": "8200"}, None, 8200),
        ("", {}, {"gateway": {"port": 8300}}, 8300),
    ],
    ids=["default", "toml", "env-over-toml", "override-over-env", "env", "override"],
)
def test_precedence_defaults_toml_env_overrides(
    tmp_path: Path,
    toml: str,
    environ: dict[str, str],
    overrides: dict[str, dict[str, int]] | None,
    expected: int,
) -> None:
    """Defaults < TOML file < PAASTECH_* environment < explicit overrides."""
    settings = load_settings(environ, _toml(tmp_path, toml), overrides)

    assert settings.gateway.port == expected


def test_layers_merge_per_key_not_per_section(tmp_path: Path) -> None:
    """A later layer replaces only the keys it sets; the section's other keys survive."""
    path = _toml(tmp_path, '[gateway]\nhost = "127.0.0.2"\nport = 8100\n')

    s = load_settings({"PAASTECH_GATEWAY__PORT": "8200"}, path)

    assert (s.gateway.host, s.gateway.port) == ("127.0.0.2", 8200)


def test_config_file_from_environment(tmp_path: Path) -> None:
    """PAASTECH_CONFIG names the TOML file when no path is passed."""
    path = _toml(tmp_path, '[apps]\ndomain = "apps.example.test"\n')

    assert load_settings({"PAASTECH_CONFIG": str(path)}).apps.domain == "apps.example.test"


def test_list_values_from_environment() -> None:
    """Lists in the environment are written as TOML arrays."""
    s = load_settings({"PAASTECH_GATEWAY__TRUSTED_PROXIES": '["127.0.0.1", "::1"]'})

    assert s.gateway.trusted_proxies == ["127.0.0.1", "::1"]


@pytest.mark.parametrize(
    ("toml", "environ", "named"),
    [
        ("[gateway]\nprot = 8000\n", {}, "prot"),
        ("[gatway]\nport = 8000\n", {}, "gatway"),
        ("", {"PAASTECH_GATEWAY__PROT": "1"}, "prot"),
        ("", {"PAASTECH_GATWAY__PORT": "1"}, "gatway"),
    ],
    ids=["toml-key", "toml-section", "env-key", "env-section"],
)
def test_unknown_key_is_an_error_naming_it(
    tmp_path: Path, toml: str, environ: dict[str, str], named: str
) -> None:
    """A misspelt key or section stops start-up with a message that names it."""
    with pytest.raises(InvalidSettings, match=named):
        load_settings(environ, _toml(tmp_path, toml))


@pytest.mark.parametrize(
    ("toml", "environ", "named"),
    [
        ('[gateway]\nport = "eighty"\n', {}, "gateway.port"),
        ("", {"PAASTECH_FORGE__PORT": "twenty-two"}, "forge.port"),
        ("[db]\nport = 70000\n", {}, "db.port"),
        ("[build]\nenabled = 3\n", {}, "build.enabled"),
    ],
    ids=["toml-type", "env-type", "out-of-range", "bool"],
)
def test_wrong_type_is_an_error_naming_the_key(
    tmp_path: Path, toml: str, environ: dict[str, str], named: str
) -> None:
    """A value of the wrong type or range stops start-up naming section.key."""
    with pytest.raises(InvalidSettings, match=named.replace(".", r"\.")):
        load_settings(environ, _toml(tmp_path, toml))


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    """A TOML syntax error names the file."""
    path = _toml(tmp_path, "[gateway\n")

    with pytest.raises(InvalidSettings, match=r"paastech\.toml"):
        load_settings({}, path)


def test_missing_config_file_is_an_error(tmp_path: Path) -> None:
    """Pointing at a file that does not exist fails rather than silently using defaults."""
    with pytest.raises(InvalidSettings, match="cannot read settings file"):
        load_settings({}, tmp_path / "absent.toml")


@pytest.mark.parametrize(
    ("section", "field"),
    [
        ("db", "password"),
        ("db", "migrate_password"),
        ("nomad", "token"),
        ("registry", "password"),
        ("fabio", "route_feed_secret"),
        ("secrets", "env_key"),
    ],
)
def test_secret_file_wins_over_inline_value(tmp_path: Path, section: str, field: str) -> None:
    """A *_file secret is read (stripped) and wins over the inline value."""
    secret = tmp_path / "secret"
    secret.write_text("from-file\n")
    environ = {
        f"PAASTECH_{section.upper()}__{field.upper()}": "inline",
        f"PAASTECH_{section.upper()}__{field.upper()}_FILE": str(secret),
    }

    s = load_settings(environ)

    assert getattr(getattr(s, section), field) == "from-file"


def test_unreadable_secret_file_names_the_key(tmp_path: Path) -> None:
    """A *_file pointing nowhere fails naming the setting."""
    environ = {"PAASTECH_DB__PASSWORD_FILE": str(tmp_path / "missing")}

    with pytest.raises(InvalidSettings, match=r"db\.password_file"):
        load_settings(environ)


def test_unrelated_environment_is_ignored() -> None:
    """Other variables, and the CLI's own PAASTECH_TOKEN, do not disturb the server settings."""
    s = load_settings({"HOME": "/root", "PAASTECH_TOKEN": "x", "PAASTECH_API_URL": "y"})

    assert s == load_settings({})


def test_settings_are_frozen() -> None:
    """Sections cannot be changed after loading; they are passed down, not mutated."""
    s = load_settings({})

    with pytest.raises(AttributeError):
        s.gateway.port = 1  # type: ignore[misc]
