"""``nox -s dev``: the stack, the platform's own processes, every URL, until Ctrl-C.

The platform's processes (``paastech-server all``, the dashboard) are started only when they
are installed; what is missing or failing is printed with its reason instead of stopping the
rest. On Ctrl-C (or SIGTERM) everything this process started is stopped, newest first; data
stays in the state dir.
"""

from __future__ import annotations

import base64
import os
import shutil
import signal
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from types import FrameType

from paastech.errors import ProvisionError
from paastech.infra import fabio, nomad, packages, postgres, registry
from paastech.infra.process import (
    Running,
    http_ok,
    launch,
    run,
)
from paastech.infra.stack import bring_up, tear_down
from paastech.settings import Settings

Say = Callable[[str], None]


def _start_app(
    name: str,
    argv: list[str],
    ready_url: str,
    *,
    settings: Settings,
    environ: Mapping[str, str],
    timeout: float = 60.0,
) -> Running:
    return launch(
        name,
        argv,
        state_dir=settings.state_path,
        url=ready_url,
        ready=lambda: http_ok(ready_url),
        environ=environ,
        timeout=timeout,
    )


def app_environ(settings: Settings, environ: Mapping[str, str]) -> dict[str, str]:
    """The environment for the platform's processes, unless configured already: the
    least-privilege database role (migrations as the cluster's owner), the Nomad management
    token, the registry password, the route-feed secret and an env-encryption key, each a
    0600 file in the state dir (the key is generated here once)."""
    state = settings.state_path
    env = dict(environ)
    if not (settings.db.password or settings.db.password_file):
        env.setdefault("PAASTECH_DB__USER", postgres.APP_ROLE)
        env.setdefault("PAASTECH_DB__PASSWORD_FILE", str(postgres.app_password_file(state)))
        env.setdefault("PAASTECH_DB__MIGRATE_USER", settings.db.user)
        env.setdefault("PAASTECH_DB__MIGRATE_PASSWORD_FILE", str(postgres.password_file(state)))
    if not (settings.nomad.token or settings.nomad.token_file):
        env.setdefault("PAASTECH_NOMAD__TOKEN_FILE", str(nomad.token_path(state)))
    if not (settings.registry.password or settings.registry.password_file):
        registry.credentials(state, settings.registry)
        env.setdefault("PAASTECH_REGISTRY__PASSWORD_FILE", str(registry.password_path(state)))
    if not (settings.fabio.route_feed_secret or settings.fabio.route_feed_secret_file):
        fabio.feed_secret(state, settings.fabio)
        env.setdefault("PAASTECH_FABIO__ROUTE_FEED_SECRET_FILE", str(fabio.secret_path(state)))
    if not (settings.secrets.env_key or settings.secrets.env_key_file):
        key_file = state / "env.key"
        if not key_file.exists():
            key_file.parent.mkdir(parents=True, exist_ok=True)
            # A Fernet key: 32 random bytes, url-safe base64.
            key_file.write_bytes(base64.urlsafe_b64encode(os.urandom(32)))
            key_file.chmod(0o600)
        env.setdefault("PAASTECH_SECRETS__ENV_KEY_FILE", str(key_file))
    return env


def _platform(settings: Settings, environ: Mapping[str, str], say: Say) -> list[Running]:
    """Start ``paastech-server all`` and the dashboard when installed; report what is not."""
    running: list[Running] = []
    server = shutil.which("paastech-server", path=environ.get("PATH"))
    migrated = True
    if server is not None:
        say("applying database migrations")
        migrate = run([server, "migrate"], env=dict(environ), check=False, timeout=120)
        if migrate.returncode != 0:
            migrated = False
            reason = (migrate.stdout + migrate.stderr).strip() or f"exit {migrate.returncode}"
            running.append(
                Running(
                    "paastech-server",
                    "",
                    started_here=False,
                    problem=f"paastech-server migrate failed: {reason}",
                )
            )
    apps = [
        ("paastech-server", "paastech-server", ["all"], f"{settings.gateway_url}/healthz"),
        (
            "dashboard",
            "paastech-ui",
            [
                "--api-url",
                settings.gateway_url,
                "--host",
                settings.ui.host,
                "--port",
                str(settings.ui.port),
                "--state-dir",
                str(settings.state_path / "ui"),
            ],
            f"http://{settings.ui.host}:{settings.ui.port}/",
        ),
    ]
    for name, script, args, ready in apps:
        if name == "paastech-server" and not migrated:
            continue
        exe = shutil.which(script, path=environ.get("PATH"))
        if exe is None:
            running.append(
                Running(
                    name,
                    "",
                    started_here=False,
                    problem=f"{script} is not installed in this environment",
                )
            )
            continue
        say(f"starting {name}")
        try:
            running.append(
                _start_app(name, [exe, *args], ready, settings=settings, environ=environ)
            )
        except ProvisionError as exc:
            running.append(Running(name, "", started_here=False, problem=exc.message))
    return running


def urls(settings: Settings) -> list[tuple[str, str]]:
    """Every URL of the dev stack, for the banner and the README."""
    fab = settings.fabio
    proxy_port = fab.proxy_addr.rsplit(":", 1)[1]
    return [
        ("REST API (gateway)", settings.gateway_url + "/api/v1"),
        ("API browser (OpenAPI)", settings.gateway_url + "/api/docs"),
        ("Readiness", settings.gateway_url + "/readyz"),
        ("Dashboard", f"http://{settings.ui.host}:{settings.ui.port}/"),
        ("git over SSH (forge)", f"ssh://git@{settings.forge.public_host}:{settings.forge.port}"),
        ("Apps (via Fabio)", f"http://<project>.{settings.apps.domain}:{proxy_port}/"),
        ("Fabio UI", f"http://{fab.ui_addr}/"),
        ("Fabio route feed", f"http://{fab.route_feed_host}:{fab.route_feed_port}/routes"),
        ("Nomad UI/API", settings.nomad.address),
        ("Image registry", f"http://{settings.registry.address}/v2/"),
        (
            "PostgreSQL",
            f"postgresql://{settings.db.user}@{settings.db.host}:{settings.db.port}/"
            f"{settings.db.database}",
        ),
    ]


def banner(settings: Settings, running: list[Running]) -> str:
    """The text printed once the stack is up: URLs, then anything unavailable and why."""
    lines = ["", "PaaSTech dev stack is up. URLs:"]
    lines += [f"  {label:<22} {url}" for label, url in urls(settings)]
    problems = [r for r in running if not r.ok]
    if problems:
        lines += ["", "NOT AVAILABLE:"]
        for item in problems:
            reason = item.problem.strip().splitlines()
            lines.append(f"  {item.name}: {reason[0] if reason else 'unknown'}")
            lines += [f"      {line}" for line in reason[1:12]]
    lines += ["", f"Logs: {settings.state_path / 'logs'}/   Stop with Ctrl-C.", ""]
    return "\n".join(lines)


def run_dev(settings: Settings, environ: Mapping[str, str], say: Say = print) -> int:
    """Bring everything up, print the URLs, block until Ctrl-C/SIGTERM, then stop it all."""
    stop_event = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop_event.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    running: list[Running] = []
    try:
        installed = packages.ensure_packages()
        if installed:
            say(f"installed system packages: {' '.join(installed)}")
        running = bring_up(settings, environ, progress=say)
        running += _platform(settings, app_environ(settings, environ), say)
        say(banner(settings, running))
        while not stop_event.wait(1.0):
            pass
        say(f"stopping what this session started (data stays in {Path(settings.state_dir)})")
    except ProvisionError as exc:
        say(f"error: {exc.message}")
        return 1
    finally:
        tear_down(running)
    return 0
