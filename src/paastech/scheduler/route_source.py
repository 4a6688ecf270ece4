"""Fabio's route table from Nomad: native service registrations of healthy allocations.

Nomad v1.6's ``/v1/service/<name>`` lists every instance whatever its health, so each
registration is joined with its allocation's check results (``/v1/allocation/:id/checks``):
an instance gets routes only while every check of its service reports ``success``. Apps are
the services ``paastech-<project>`` (``jobspec.job_id``); each answers to
``<project>.<apps.domain>``, the same with Fabio's proxy port, and its custom domains.

:class:`RouteSource` keeps the table cached so ``GET /routes`` answers at once. Its
:meth:`~RouteSource.run` refreshes it in the background: at once when a registration changes
(a Nomad blocking query on ``/v1/services``), and every ``fabio.route_refresh_seconds``
anyway, because a check turning red changes no registration. An instance registered but not
healthy yet (a new release's, or a woken one) is the one a push waits for: its checks alone
are read every ``_PENDING_SECONDS`` for up to ``_PENDING_FOR_SECONDS``, and the table is
rebuilt the moment they pass, rather than at the next full refresh. When Nomad cannot be read the
last table stays: the instances it names are most likely still serving, and an empty table
would take every app offline over a blip of the control plane.

Every entry is validated (:func:`~paastech.scheduler.routes.route_problem`) before it is
served, because one malformed entry makes Fabio reject the whole table.

Extending: a project whose traffic must go elsewhere (the activator of a sleeping function)
adds :class:`~paastech.scheduler.routes.Target` s through ``extra_targets``, or replaces
Nomad's through ``route_override`` (what :mod:`~paastech.scheduler.sleepers` does); they are
routed and validated like Nomad's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol

import asyncpg

from paastech.db.tables import Domain
from paastech.errors import PaasTechError
from paastech.scheduler.nomad import NomadApi
from paastech.scheduler.routes import RouteDef, Target, build_routes, route_problem
from paastech.settings import Settings

log = logging.getLogger("paastech.scheduler.routes")

APP_PREFIX = "paastech-"
_PROJECT = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
_CONCURRENCY = 16
_PENDING_SECONDS = 0.025
"""How often the checks of one instance that is not healthy yet are read: Nomad runs its
first check half an interval after the allocation starts, and the push waits for the read
after it. With more instances pending the pause grows with their number, so up to eight
cost Nomad 40 reads a second together; past eight they are all read every
``_PENDING_PAUSE_MAX``. With none pending the lane sleeps until a refresh finds one."""
_PENDING_PAUSE_MAX = 0.2
_PENDING_FOR_SECONDS = 60.0
"""How long an instance counts as pending (past it, a failing instance waits for the full
refresh like every other: one that never passes costs no more than a healthy one)."""
_PENDING_MAX = 32
_PENDING_CONCURRENCY = 4

TargetHook = Callable[[], Awaitable[list[Target]]]
#: Nomad's targets in, the routed ones out (sleeping projects pointed at the activator).
TargetOverride = Callable[[list[Target]], Awaitable[list[Target]]]


class DomainSource(Protocol):
    """The custom hostnames each project may be routed under."""

    async def hostnames(self) -> dict[str, list[str]]:
        """Project name → its routable custom domains."""
        ...


class DatabaseDomains:
    """Custom domains from PostgreSQL (the tables' engine must be connected).

    Once the schema has the ``routable_domains`` view (domains whose ownership was verified
    through DNS), only those are routed; before it, every domain row is.
    """

    async def hostnames(self) -> dict[str, list[str]]:
        rows = await Domain.raw("SELECT to_regclass('routable_domains') IS NOT NULL AS v").run()
        table = "routable_domains" if rows and rows[0]["v"] else "domains"
        found = await Domain.raw(
            # ``table`` is one of two constants above, never input.
            "SELECT p.name AS project, d.hostname AS hostname"  # noqa: S608
            f" FROM {table} d JOIN projects p ON p.id = d.project"
            " ORDER BY p.name, d.hostname"
        ).run()
        result: dict[str, list[str]] = {}
        for row in found:
            result.setdefault(str(row["project"]), []).append(str(row["hostname"]))
        return result


def project_of(service_name: str) -> str | None:
    """The project a native service belongs to, or None when it is not an app's."""
    if not service_name.startswith(APP_PREFIX):
        return None
    project = service_name.removeprefix(APP_PREFIX)
    return project if _PROJECT.match(project) else None


def healthy(service_name: str, checks: dict[str, dict[str, Any]]) -> bool:
    """Every check of ``service_name`` in this allocation passed its latest run.

    No result yet (the first check has not run) is not healthy: routes follow evidence.
    """
    results = [c for c in checks.values() if c.get("Service") == service_name]
    return bool(results) and all(c.get("Status") == "success" for c in results)


class RouteSource:
    """The route table, rebuilt from Nomad in the background and served from memory."""

    def __init__(
        self,
        settings: Settings,
        nomad_api: NomadApi,
        *,
        domains: DomainSource | None = None,
        extra_targets: TargetHook | None = None,
        route_override: TargetOverride | None = None,
    ) -> None:
        self._settings = settings
        self._nomad = nomad_api
        self._domains = domains if domains is not None else DatabaseDomains()
        self._extra = extra_targets
        self._override = route_override
        self._proxy_port = _port_of(settings.fabio.proxy_addr)
        self._interval = settings.fabio.route_refresh_seconds
        self._table: list[RouteDef] = []
        self._custom: dict[str, list[str]] = {}
        self._changed = asyncio.Event()
        self._problem = ""
        self._watched = 0
        """The registrations' index the blocking query last returned."""
        self._regs: list[dict[str, Any]] | None = None
        self._regs_index = -1
        self._pending: dict[str, str] = {}
        """Allocation → the service it registered, for instances whose checks have not passed."""
        self._first_seen: dict[str, float] = {}
        self._has_pending = asyncio.Event()

    async def table(self) -> list[RouteDef]:
        """The latest table (what ``GET /routes`` serves); never waits for Nomad."""
        return self._table

    async def run(self) -> None:
        """Keep the table fresh until cancelled."""
        watchers = [
            asyncio.create_task(self._watch_registrations(), name="route-source-watch"),
            asyncio.create_task(self._watch_pending(), name="route-source-pending"),
        ]
        try:
            while True:
                self._changed.clear()
                await self._refresh_quietly(cached_registrations=True)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), timeout=self._interval)
        finally:
            for watcher in watchers:
                watcher.cancel()

    async def refresh(self, *, cached_registrations: bool = False) -> list[RouteDef]:
        """Rebuild the table once from Nomad and the database, and cache it.

        With ``cached_registrations`` (the background loop's periodic refresh) the service
        registrations last read are reused while the blocking query says none changed; the
        check results are always read again. A caller that just changed something (a
        follower, a wake) reads everything.

        Raises:
            BackendError: Nomad could not be read (the cached table is unchanged).
        """
        targets = await self._targets(cached_registrations)
        if self._override is not None:
            targets = await self._override(targets)
        if self._extra is not None:
            targets.extend(await self._extra())
        try:
            self._custom = await self._domains.hostnames()
        except PaasTechError as exc:  # the app hosts still route; domains come back later
            log.warning("custom domains unreadable, keeping the last ones: %s", exc.message)
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("custom domains unreadable, keeping the last ones: %s", exc)
        table = self._valid(build_routes(targets, self._hostnames(targets), self._proxy_port))
        self._table = table
        return table

    # -- inside ---------------------------------------------------------------------------

    async def _refresh_quietly(self, *, cached_registrations: bool = False) -> None:
        try:
            await self.refresh(cached_registrations=cached_registrations)
        except PaasTechError as exc:  # whatever Nomad answered, the last table stays
            if exc.message != self._problem:
                log.warning("route table kept as it was: %s", exc.message)
            self._problem = exc.message
        else:
            if self._problem:
                log.info("route table follows Nomad again")
            self._problem = ""

    async def _watch_registrations(self) -> None:
        index = 0
        while True:
            try:
                _, new_index = await self._nomad.watch_services(index)
            except PaasTechError:
                await asyncio.sleep(self._interval)
                continue
            if new_index != index:
                index = new_index
                self._watched = new_index
                self._changed.set()

    async def _watch_pending(self) -> None:
        gate = asyncio.Semaphore(_PENDING_CONCURRENCY)

        async def checks(alloc: str) -> dict[str, dict[str, Any]]:
            async with gate:
                return await self._nomad.allocation_checks(alloc)

        while True:
            if not self._pending:  # nothing to watch: sleep until a refresh finds some
                self._has_pending.clear()
                await self._has_pending.wait()
            waiting = min(len(self._pending), _PENDING_MAX)
            await asyncio.sleep(min(_PENDING_SECONDS * waiting, _PENDING_PAUSE_MAX))
            pending = list(self._pending.items())[:_PENDING_MAX]
            if not pending or self._changed.is_set():
                continue
            try:
                results = await asyncio.gather(*(checks(alloc) for alloc, _ in pending))
            except PaasTechError:
                continue  # the full refresh reads them again and says what is wrong
            names = [name for _, name in pending]
            if any(healthy(n, c) for n, c in zip(names, results, strict=True)):
                self._changed.set()

    def _note_pending(self, regs: list[tuple[str, str, bool]]) -> None:
        """Remember which registered instances are not healthy yet (and since when)."""
        now = time.monotonic()
        seen = {alloc for alloc, _, _ in regs}
        self._first_seen = {a: t for a, t in self._first_seen.items() if a in seen}
        pending: dict[str, str] = {}
        for alloc, name, ok in regs:
            first = self._first_seen.setdefault(alloc, now)
            if not ok and now - first < _PENDING_FOR_SECONDS:
                pending[alloc] = name
        self._pending = pending
        if pending:
            self._has_pending.set()

    async def _registrations(self, cached: bool) -> list[dict[str, Any]]:
        if (
            cached
            and self._regs is not None
            and self._watched
            and self._regs_index == self._watched
        ):
            return self._regs
        seen = self._watched  # a change during the read moves it on: the next refresh reads
        names = [n for n in await self._nomad.services() if project_of(n) is not None]
        gate = asyncio.Semaphore(_CONCURRENCY)

        async def registrations(name: str) -> list[dict[str, Any]]:
            async with gate:
                return await self._nomad.service(name)

        found = await asyncio.gather(*(registrations(n) for n in names))
        self._regs = [r for rs in found for r in rs]
        self._regs_index = seen
        return self._regs

    async def _targets(self, cached_registrations: bool = False) -> list[Target]:
        regs = await self._registrations(cached_registrations)
        gate = asyncio.Semaphore(_CONCURRENCY)
        allocs = sorted({str(r["AllocID"]) for r in regs})

        async def checks(alloc_id: str) -> dict[str, dict[str, Any]]:
            async with gate:
                return await self._nomad.allocation_checks(alloc_id)

        results = dict(zip(allocs, await asyncio.gather(*(checks(a) for a in allocs)), strict=True))
        targets: list[Target] = []
        seen: list[tuple[str, str, bool]] = []
        for reg in regs:
            name = str(reg.get("ServiceName", ""))
            project = project_of(name)
            if project is None:
                continue
            alloc = str(reg["AllocID"])
            ok = healthy(name, results[alloc])
            seen.append((alloc, name, ok))
            targets.append(
                Target(
                    project=project,
                    address=str(reg.get("Address", "")),
                    port=int(reg.get("Port") or 0),
                    healthy=ok,
                )
            )
        self._note_pending(seen)
        return targets

    def _hostnames(self, targets: Iterable[Target]) -> dict[str, list[str]]:
        domain = self._settings.apps.domain.lower()
        custom = self._custom
        return {
            t.project: [f"{t.project}.{domain}", *(h.lower() for h in custom.get(t.project, []))]
            for t in targets
        }

    def _valid(self, routes: list[RouteDef]) -> list[RouteDef]:
        good: list[RouteDef] = []
        for route in routes:
            problem = route_problem(route)
            if problem is None:
                good.append(route)
            else:
                log.warning("route left out of the table (%s): %s", route.service, problem)
        return good


def _port_of(addr: str) -> int:
    _, _, port = addr.rpartition(":")
    return int(port) if port.isdigit() else 80
