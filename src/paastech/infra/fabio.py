"""Fabio with the custom registry backend, polling the scheduler's route feed.

There is no Consul in the dev stack: Fabio polls ``GET <feed>/routes`` (a JSON list of
``route.RouteDef``, see :func:`route_def`) every ``fabio.poll_interval``.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from paastech.errors import ProvisionError
from paastech.infra.binaries import ensure_fabio_binary
from paastech.infra.process import (
    Running,
    http_ok,
    launch,
    port_open,
)
from paastech.settings import FabioSettings

ROUTE_FEED_PATH = "routes"


def secret_path(state_dir: Path) -> Path:
    """The route feed's generated secret in the dev profile (0600)."""
    return state_dir / "fabio" / "feed.secret"


def feed_secret(state_dir: Path, fabio: FabioSettings) -> str:
    """The configured feed secret, else the state dir's, generated once: never none."""
    if fabio.route_feed_secret:
        return fabio.route_feed_secret
    path = secret_path(state_dir)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(24) + "\n")
    return path.read_text().strip()


def properties(fabio: FabioSettings, secret: str) -> str:
    """Fabio's properties file for these settings (names as in Fabio's fabio.properties).

    Poll interval and timeout are always written out: Fabio releases before v1.7.3 read
    their defaults as nanoseconds.
    """
    if not secret:
        raise ProvisionError("fabio: the route feed needs a secret (fabio.route_feed_secret)")
    lines = [
        f"proxy.addr = {fabio.proxy_addr}",
        f"ui.addr = {fabio.ui_addr}",
        "registry.backend = custom",
        f"registry.custom.host = {fabio.route_feed_host}:{fabio.route_feed_port}",
        "registry.custom.scheme = http",
        # Fabio builds scheme://host/path itself: the path takes no leading slash.
        f"registry.custom.path = {ROUTE_FEED_PATH}",
        f"registry.custom.pollinterval = {fabio.poll_interval}",
        f"registry.custom.timeout = {fabio.feed_timeout}",
        f"registry.custom.queryparams = secret={secret}",
    ]
    if fabio.gomaxprocs:
        lines.append(f"runtime.gomaxprocs = {fabio.gomaxprocs}")
    return "\n".join(lines) + "\n"


def environment(fabio: FabioSettings, environ: Mapping[str, str]) -> dict[str, str]:
    """The Fabio process's environment: ``environ`` with ``GOGC`` from the settings.

    Fabio allocates a few kB per proxied request and keeps a small heap, so with Go's default
    GOGC=100 it collects many times a second under load; a higher GOGC trades a few tens of
    MB for fewer collections (see ``fabio.gogc``). A ``GOGC`` already in ``environ`` wins.
    """
    env = dict(environ)
    if fabio.gogc:
        env.setdefault("GOGC", str(fabio.gogc))
    return env


def route_def(
    service: str,
    src: str,
    dst: str,
    *,
    weight: float = 0.0,
    tags: list[str] | None = None,
    opts: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """One entry of the custom backend's JSON list (Fabio's ``route.RouteDef``).

    Args:
        service: Service name shown in Fabio's UI.
        src: ``host/path`` prefix to match, e.g. ``app.apps.localhost/``.
        dst: Target URL, e.g. ``http://127.0.0.1:23456/``.
        weight: Fixed share of traffic; 0 spreads evenly across the service's targets.
        tags: Tags shown in the UI.
        opts: Route options (``strip``, ``proto`` …).
    """
    entry: dict[str, Any] = {
        "cmd": "route add",
        "service": service,
        "src": src,
        "dst": dst,
        "weight": weight,
    }
    if tags:
        entry["tags"] = list(tags)
    if opts:
        entry["opts"] = dict(opts)
    return entry


def _split(addr: str) -> tuple[str, int]:
    host, _, port = addr.rpartition(":")
    return host, int(port)


def ensure_fabio(
    state_dir: Path,
    fabio: FabioSettings,
    environ: Mapping[str, str],
    timeout: float = 30.0,
    name: str = "fabio",
) -> Running:
    """Use the Fabio answering on ``fabio.ui_addr``, or start one with our properties.

    Raises:
        ProvisionError: The binary could not be had, a port is taken by something else, or
            Fabio did not answer within ``timeout``.
    """
    health = f"http://{fabio.ui_addr}/health"
    proxy_url = f"http://{fabio.proxy_addr}"
    if http_ok(health) and port_open(*_split(fabio.proxy_addr)):
        return Running(name, proxy_url, started_here=False)
    for addr in (fabio.proxy_addr, fabio.ui_addr):
        if port_open(*_split(addr)):
            raise ProvisionError(f"fabio: {addr} is taken by something that is not Fabio")
    binary = ensure_fabio_binary(fabio.version, environ)
    config_path = state_dir / name / "fabio.properties"
    config_path.parent.mkdir(parents=True, exist_ok=True)
    config_path.write_text(properties(fabio, feed_secret(state_dir, fabio)))
    config_path.chmod(0o600)
    return launch(
        name,
        [str(binary), "-cfg", str(config_path)],
        state_dir=state_dir,
        url=proxy_url,
        ready=lambda: http_ok(health) and port_open(*_split(fabio.proxy_addr)),
        environ=environment(fabio, environ),
        timeout=timeout,
        what="fabio",
    )
