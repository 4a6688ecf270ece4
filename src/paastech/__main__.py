"""``paastech-server``: run the platform's services.

    paastech-server migrate     apply database migrations (idempotent)
    paastech-server gateway     the REST API
    paastech-server forge       the git SSH server
    paastech-server scheduler   Fabio's route feed and the orchestrator loops
    paastech-server all         the three above as supervised child processes

Settings come from ``--config FILE`` (or ``$PAASTECH_CONFIG``) and ``PAASTECH_*`` variables.
Exit codes: 0 ok, 1 unexpected failure, 2 usage or settings error, 6 a backend is unavailable.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cyclopts

from paastech import __version__
from paastech.errors import BackendUnavailable, InvalidSettings, PaasTechError
from paastech.settings import Settings, load_settings

app = cyclopts.App(
    name="paastech-server",
    version=__version__,
    help="Run PaaSTech's services. Exit: 0 ok, 1 failure, 2 usage/settings, 6 backend down.",
)
log = logging.getLogger("paastech")


def _settings(config: Path | None) -> Settings:
    # Entry points are the only place that reads the process environment.
    return load_settings(os.environ, config)


def _logging() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


@app.command
def migrate(*, config: Path | None = None) -> None:
    """Apply pending database migrations.

    Example: ``paastech-server migrate --config /etc/paastech.toml``
    """
    from paastech import db

    settings = _settings(config)
    applied = asyncio.run(db.migrate(settings.db))
    print("applied: " + ", ".join(applied) if applied else "database is up to date")


@app.command
def gateway(*, config: Path | None = None) -> None:
    """Serve the REST API (``gateway.host:gateway.port``).

    Example: ``PAASTECH_GATEWAY__PORT=8000 paastech-server gateway``
    """
    from paastech.gateway.app import run
    from paastech.scheduler.nomad import NomadApi
    from paastech.scheduler.runtime import RuntimeReads
    from paastech.services import Services

    _logging()
    settings = _settings(config)
    # The composition root: the gateway reads what runs from Nomad; it writes only intent
    # (PostgreSQL) and never touches the forge's repositories.
    run(settings, Services(scheduler=RuntimeReads(NomadApi(settings.nomad))))


@app.command
def forge(*, config: Path | None = None) -> None:
    """Serve git over SSH (``forge.host:forge.port``).

    Example: ``paastech-server forge``
    """
    from paastech.forge.server import run

    _logging()
    run(_settings(config))


@app.command
def scheduler(*, config: Path | None = None) -> None:
    """Serve Fabio's route feed (``fabio.route_feed_host:route_feed_port``).

    Example: ``paastech-server scheduler``
    """
    from paastech.scheduler.service import run

    _logging()
    run(_settings(config))


@app.command(name="all")
def all_(*, config: Path | None = None) -> None:
    """Run gateway, forge and scheduler as child processes; stop all if one dies.

    Example: ``paastech-server all``
    """
    _settings(config)  # fail fast on bad settings before starting anything
    _logging()
    base = [sys.executable, "-m", "paastech"]
    extra = ["--config", str(config)] if config else []
    children = {
        name: subprocess.Popen([*base, name, *extra]) for name in ("gateway", "forge", "scheduler")
    }
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    exit_code = 0
    while not stopping:
        for name, proc in children.items():
            if proc.poll() is not None:
                log.error("%s exited with %s; stopping the others", name, proc.returncode)
                exit_code = proc.returncode or 1
                stopping = True
        time.sleep(0.2)
    for proc in children.values():
        if proc.poll() is None:
            proc.terminate()
    for proc in children.values():
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
    sys.exit(exit_code)


def main() -> None:
    """Console-script entry: run the app, render domain errors as one line."""
    try:
        app()
    except InvalidSettings as exc:
        print(f"paastech-server: {exc.message}", file=sys.stderr)
        sys.exit(2)
    except BackendUnavailable as exc:
        print(f"paastech-server: {exc.message}", file=sys.stderr)
        sys.exit(6)
    except PaasTechError as exc:
        print(f"paastech-server: {exc.message}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
