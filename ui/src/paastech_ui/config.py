"""The dashboard's configuration: where the gateway is, where to listen, the storage secret.

Precedence, lowest first: defaults < environment (``PAASTECH_API_URL``,
``PAASTECH_UI__HOST``/``PAASTECH_UI__PORT`` as the server settings name them,
``PAASTECH_UI_STORAGE_SECRET`` or ``PAASTECH_UI_STORAGE_SECRET_FILE``,
``PAASTECH_UI_STATE_DIR``) < command-line flags. :func:`load_config` is pure: it takes the
environment and the arguments as data; only :mod:`paastech_ui.main` reads ``os.environ``.
"""

from __future__ import annotations

import argparse
import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from paastech_ui import __version__

DEFAULT_API_URL = "http://127.0.0.1:8000"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
SECRET_FILE_NAME = "storage-secret"  # noqa: S105 - a file name, not a secret


class ConfigError(Exception):
    """A flag or environment variable has a value the dashboard cannot use."""


@dataclass(frozen=True, kw_only=True)
class UiConfig:
    """Everything the dashboard needs, loaded once by the entry point and passed down."""

    api_url: str = DEFAULT_API_URL
    """The gateway's base URL (``http(s)://host:port``)."""
    host: str = DEFAULT_HOST
    """Bind address of the dashboard."""
    port: int = DEFAULT_PORT
    """Port of the dashboard."""
    state_dir: Path = Path(".paastech") / "ui"
    """Holds the generated storage secret and NiceGUI's per-user storage (mode 0700)."""
    storage_secret: str = ""
    """Signs the session cookie; empty: read or generate ``<state_dir>/storage-secret``."""
    transport: httpx.AsyncBaseTransport | None = None
    """An httpx transport instead of the network (tests use an in-memory gateway)."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="paastech-ui",
        description="Serve the PaaSTech web dashboard (it talks HTTP to the gateway only).",
        epilog="Example: paastech-ui --api-url http://127.0.0.1:8000 --port 8080",
    )
    parser.add_argument("--version", action="version", version=f"paastech-ui {__version__}")
    parser.add_argument("--api-url", help=f"gateway URL (env PAASTECH_API_URL; {DEFAULT_API_URL})")
    parser.add_argument("--host", help=f"bind address (env PAASTECH_UI__HOST; {DEFAULT_HOST})")
    parser.add_argument("--port", type=int, help=f"port (env PAASTECH_UI__PORT; {DEFAULT_PORT})")
    parser.add_argument(
        "--state-dir", help="secret and session storage (env PAASTECH_UI_STATE_DIR; .paastech/ui)"
    )
    return parser


def load_config(argv: Sequence[str], environ: Mapping[str, str]) -> UiConfig:
    """Build the configuration from the command line and the environment.

    Args:
        argv: The arguments after the program name.
        environ: The process environment, or any mapping standing for it.

    Raises:
        ConfigError: A value is unusable (bad URL, port out of range, unreadable secret file).
        SystemExit: ``--help``/``--version`` or a usage error (argparse's own exit).
    """
    args = _parser().parse_args(list(argv))
    api_url = (args.api_url or environ.get("PAASTECH_API_URL") or DEFAULT_API_URL).rstrip("/")
    if not api_url.startswith(("http://", "https://")):
        raise ConfigError(f"the gateway URL must start with http:// or https://: {api_url}")
    host = args.host or environ.get("PAASTECH_UI__HOST") or DEFAULT_HOST
    raw_port = args.port if args.port is not None else environ.get("PAASTECH_UI__PORT")
    try:
        port = int(raw_port) if raw_port is not None else DEFAULT_PORT
    except ValueError as exc:
        raise ConfigError(f"the port must be a number: {raw_port}") from exc
    if not 0 <= port <= 65535:
        raise ConfigError(f"the port must be within 0-65535: {port}")
    state_dir = Path(
        args.state_dir or environ.get("PAASTECH_UI_STATE_DIR") or Path(".paastech") / "ui"
    )
    secret = environ.get("PAASTECH_UI_STORAGE_SECRET", "")
    secret_file = environ.get("PAASTECH_UI_STORAGE_SECRET_FILE", "")
    if not secret and secret_file:
        try:
            secret = Path(secret_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"cannot read PAASTECH_UI_STORAGE_SECRET_FILE: {exc}") from exc
    return UiConfig(
        api_url=api_url, host=host, port=port, state_dir=state_dir, storage_secret=secret
    )


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) and make it readable by its owner only."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def storage_secret(config: UiConfig) -> str:
    """The configured secret, else the one in ``<state_dir>/storage-secret``, made when absent.

    The generated file is created with mode 0600 (never world-readable, even briefly).
    """
    if config.storage_secret:
        return config.storage_secret
    path = private_dir(config.state_dir) / SECRET_FILE_NAME
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        pass
    secret = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(secret + "\n")
    return secret
