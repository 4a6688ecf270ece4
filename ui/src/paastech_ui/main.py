"""``paastech-ui``: serve the dashboard (one process, NiceGUI on uvicorn)."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from nicegui import app, ui
from nicegui.storage import Storage

from paastech_ui.app import create_root
from paastech_ui.config import ConfigError, UiConfig, load_config, private_dir, storage_secret


def serve(config: UiConfig) -> None:
    """Run the dashboard for ``config`` until interrupted."""
    secret = storage_secret(config)
    # Per-user storage (which holds each browser's token) lives in the private state dir.
    Storage.path = private_dir(config.state_dir / "storage").resolve()
    app.storage = Storage()
    ui.run(
        create_root(config),
        host=config.host,
        port=config.port,
        title="PaaSTech",
        storage_secret=secret,
        reload=False,
        show=False,
        show_welcome_message=False,
        uvicorn_logging_level="warning",
        # Request lines are not logged at all: no path ever carries a secret, but logs stay
        # quiet and cheap.
        access_log=False,
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry: configuration from the flags and the environment, then serve."""
    try:
        config = load_config(sys.argv[1:] if argv is None else argv, os.environ)
    except ConfigError as exc:
        print(f"paastech-ui: {exc}", file=sys.stderr)
        sys.exit(2)
    print(
        f"paastech-ui: dashboard on http://{config.host}:{config.port}/ (gateway {config.api_url})"
    )
    serve(config)
