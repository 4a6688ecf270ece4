"""Liveness and readiness of the platform's real components.

Each check is one cheap request with a short timeout; :func:`readiness` runs them all
concurrently, so ``/readyz`` answers within one timeout even when everything is down.
Reasons are short words a person can act on (refused, timed out, status N, unauthorized) and
never carry exception text or credentials. :class:`ReadinessCache` answers the anonymous
``/readyz`` from a result a few seconds old, so hammering it costs one round of probes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import asyncpg
import httpx

from paastech.settings import DbSettings, Settings

DEFAULT_TIMEOUT = 2.0
DOCKER_SOCKET = "/var/run/docker.sock"
COMPONENTS = ("postgres", "nomad", "docker", "registry", "fabio")


@dataclass(frozen=True)
class Status:
    """One component's readiness."""

    ok: bool
    reason: str = ""


# First match wins: the most specific kinds come first.
_REASONS: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], str], ...] = (
    ((TimeoutError, httpx.TimeoutException), "timed out"),
    ((httpx.ConnectError, ConnectionRefusedError), "connection refused"),
    (FileNotFoundError, "socket not found"),
    (PermissionError, "permission denied"),
    (
        (asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError),
        "authentication failed",
    ),
    (asyncpg.PostgresError, "database error"),
    (httpx.HTTPError, "request failed"),
)


def _describe(exc: BaseException) -> str:
    """A short reason for ``exc``, never its text (which may carry hosts or credentials)."""
    for kinds, reason in _REASONS:
        if isinstance(exc, kinds):
            return reason
    return "unreachable"


async def check_postgres(db: DbSettings, wait_seconds: float = DEFAULT_TIMEOUT) -> Status:
    """``SELECT 1`` on a fresh connection (the pool may hide a dead server for a while)."""
    try:
        async with asyncio.timeout(wait_seconds):
            conn = await asyncpg.connect(db.dsn(), timeout=wait_seconds)
            try:
                await conn.fetchval("SELECT 1")
            finally:
                await conn.close()
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        return Status(False, _describe(exc))
    return Status(True)


async def check_http(
    url: str,
    *,
    wait_seconds: float = DEFAULT_TIMEOUT,
    uds: str | None = None,
    headers: dict[str, str] | None = None,
    ok_statuses: frozenset[int] = frozenset({200}),
) -> Status:
    """GET ``url`` (over a unix socket when ``uds``); ready when the status is expected."""
    transport = httpx.AsyncHTTPTransport(uds=uds) if uds else None
    try:
        async with httpx.AsyncClient(transport=transport, timeout=wait_seconds) as client:
            response = await client.get(url, headers=headers)
    except (httpx.HTTPError, OSError) as exc:
        return Status(False, _describe(exc))
    if response.status_code not in ok_statuses:
        if response.status_code in {401, 403}:
            return Status(False, f"unauthorized (status {response.status_code})")
        return Status(False, f"status {response.status_code}")
    return Status(True)


def checks(
    settings: Settings, docker_socket: str = DOCKER_SOCKET, wait_seconds: float = DEFAULT_TIMEOUT
) -> dict[str, Callable[[], Awaitable[Status]]]:
    """The readiness check of every component, by name."""
    nomad_headers = {"X-Nomad-Token": settings.nomad.token} if settings.nomad.token else None
    return {
        "postgres": lambda: check_postgres(settings.db, wait_seconds),
        "nomad": lambda: check_http(
            f"{settings.nomad.address.rstrip('/')}/v1/agent/self",
            wait_seconds=wait_seconds,
            headers=nomad_headers,
        ),
        "docker": lambda: check_http(
            "http://docker/_ping", wait_seconds=wait_seconds, uds=docker_socket
        ),
        # 401 is a live registry that wants credentials.
        "registry": lambda: check_http(
            f"http://{settings.registry.address}/v2/",
            wait_seconds=wait_seconds,
            ok_statuses=frozenset({200, 401}),
        ),
        "fabio": lambda: check_http(
            f"http://{settings.fabio.ui_addr}/health", wait_seconds=wait_seconds
        ),
    }


async def readiness(
    settings: Settings, docker_socket: str = DOCKER_SOCKET, wait_seconds: float = DEFAULT_TIMEOUT
) -> dict[str, Status]:
    """Run every component check concurrently."""
    named = checks(settings, docker_socket, wait_seconds)
    results = await asyncio.gather(*(check() for check in named.values()))
    return dict(zip(named, results, strict=True))


@dataclass
class ReadinessCache:
    """Readiness at most ``ttl`` seconds old; concurrent callers share one round of probes."""

    settings: Settings
    ttl: float = 2.0
    docker_socket: str = DOCKER_SOCKET
    _result: dict[str, Status] | None = field(default=None, init=False)
    _at: float = field(default=0.0, init=False)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False)

    async def get(self) -> dict[str, Status]:
        """The cached result, or a fresh one when it is older than ``ttl``."""
        if self._result is not None and time.monotonic() - self._at < self.ttl:
            return self._result
        async with self._lock:
            if self._result is None or time.monotonic() - self._at >= self.ttl:
                self._result = await readiness(self.settings, self.docker_socket)
                self._at = time.monotonic()
            return self._result
