"""What the scheduler knows of each project that may sleep, and where its traffic goes.

A :class:`Sleeper` per project with ``scale_to_zero`` (or still ``asleep``), kept in step with
PostgreSQL by the idler's tick. Its :class:`Phase` decides the route (:meth:`Sleepers.route`):

- ``awake`` function: straight to its instances, once Nomad reports one healthy; until then
  (just woken) through the activator, which already knows the instance's address;
- ``draining``, ``asleep``, ``waking``: through the activator;
- container apps that opt in always go through the activator: it is their activity signal
  (in-flight count and last request), which an arbitrary container does not report.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import enum
import itertools
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid4

from paastech.db.tables import ColdStart, Project
from paastech.scheduler.routes import Target

log = logging.getLogger("paastech.scheduler.sleepers")

_COLUMNS = (
    "SELECT id, name, kind, scale_to_zero, asleep, idle_timeout, instances FROM projects"
    " WHERE scale_to_zero OR asleep"
)
_SLEEPABLE = (
    "SELECT p.id FROM projects p WHERE p.scale_to_zero AND NOT p.asleep"
    " AND EXISTS (SELECT 1 FROM releases r WHERE r.project = p.id AND r.status = 'live')"
    " AND NOT EXISTS (SELECT 1 FROM releases r WHERE r.project = p.id"
    " AND r.status IN ('pending', 'deploying'))"
)


class Phase(enum.StrEnum):
    AWAKE = "awake"
    DRAINING = "draining"
    ASLEEP = "asleep"
    WAKING = "waking"


@dataclass(frozen=True)
class Instance:
    """One allocation's addresses: the app's port and (functions) the shim's control port."""

    alloc_id: str
    address: str
    port: int
    control_port: int | None = None


@dataclass
class Sleeper:
    project_id: UUID
    name: str
    kind: str
    idle_timeout: int
    instances_wanted: int
    phase: Phase
    instances: list[Instance] = field(default_factory=list)
    direct: bool = False
    """A healthy instance is in Nomad's registry: Fabio may route to it without the activator."""
    in_flight: int = 0
    total: int = 0
    """Requests the activator answered (the activity of a container app)."""
    flushed: int = 0
    last_request: float = 0.0
    woken_at: float = field(default_factory=time.time)
    interrupted: bool = False
    """A request reached the activator while draining: the drain gives up."""
    wake: asyncio.Task[Any] | None = None
    _turn: itertools.count[int] = field(default_factory=itertools.count)

    @property
    def proxied(self) -> bool:
        """Container apps stay behind the activator while awake."""
        return self.kind != "function"

    def pick(self) -> Instance | None:
        """An instance to forward to (round robin), or None."""
        if not self.instances:
            return None
        return self.instances[next(self._turn) % len(self.instances)]

    def begin(self) -> None:
        self.in_flight += 1
        self.total += 1
        self.last_request = time.time()
        if self.phase == Phase.DRAINING:
            self.interrupted = True

    def end(self) -> None:
        self.in_flight -= 1
        self.last_request = time.time()


@dataclass
class Breakdown:
    """One wake's phases in ms since its first request arrived (None: Nomad did not say)."""

    started_at: float
    release: int | None = None
    placed_ms: int | None = None
    image_ready_ms: int | None = None
    started_ms: int | None = None
    first_answer_ms: int | None = None
    held: int = 0
    cold: bool = True
    """False when the instance was already up: the requests get no cold-start header."""
    recorded: bool = False
    settled: asyncio.Event = field(default_factory=asyncio.Event)
    """Set once Nomad reported the task's start (or stopped being asked): then it is stored."""

    def server_timing(self, total_ms: int) -> str:
        """The ``Server-Timing`` value (each phase's own duration, then the total)."""
        marks = [
            ("placed", self.placed_ms),
            ("image", self.image_ready_ms),
            ("started", self.started_ms),
            ("healthy", self.first_answer_ms),
        ]
        parts: list[str] = []
        previous = 0
        for name, mark in marks:
            if mark is None:
                continue
            parts.append(f"{name};dur={max(0, mark - previous)}")
            previous = mark
        parts.append(f"cold-start;dur={total_ms}")
        return ", ".join(parts)


class SleepRows:
    """Every read and write of the sleep path in PostgreSQL (``projects.asleep`` is the truth
    the reconciler applies; see :mod:`paastech.scheduler.scaling`)."""

    async def sleepers(self) -> list[dict[str, Any]]:
        """The projects that may sleep, or still do."""
        return list(await Project.raw(_COLUMNS).run())

    async def sleepable(self) -> set[UUID]:
        """Projects the idler may put to sleep: awake, live, with no deploy under way."""
        return {row["id"] for row in await Project.raw(_SLEEPABLE).run()}

    async def mark_asleep(self, project_id: UUID, asleep: bool) -> None:
        """Write ``asleep`` (and when it began) before the count follows."""
        stamp = dt.datetime.now(dt.UTC) if asleep else None
        await (
            Project.update({Project.asleep: asleep, Project.asleep_since: stamp})
            .where(Project.id == project_id)
            .run()
        )

    async def count(self, project_id: UUID, new: int, last: float) -> None:
        """Add ``new`` invocations and the last request's time."""
        await Project.raw(
            "UPDATE projects SET invocations = invocations + {},"
            " last_request_at = to_timestamp({}) WHERE id = {}",
            new,
            last,
            project_id,
        ).run()

    async def record_cold_start(self, project_id: UUID, wake: Breakdown, total_ms: int) -> None:
        """Store one wake in ``cold_starts``."""
        await ColdStart.insert(
            ColdStart(
                id=uuid4(),
                project=project_id,
                release_version=wake.release,
                held_ms=wake.first_answer_ms,
                requests=wake.held,
                placed_ms=wake.placed_ms,
                image_ready_ms=wake.image_ready_ms,
                started_ms=wake.started_ms,
                first_answer_ms=wake.first_answer_ms,
                total_ms=total_ms,
                created_at=dt.datetime.now(dt.UTC),
            )
        ).run()


class Sleepers:
    """Every sleeper by project name; the route override Fabio's table goes through."""

    def __init__(
        self, activator_host: str, activator_port: int, rows: SleepRows | None = None
    ) -> None:
        self.by_name: dict[str, Sleeper] = {}
        self.rows = rows or SleepRows()
        self._activator = (activator_host, activator_port)
        self._synced = False

    async def sync(self) -> list[Sleeper]:
        """Follow PostgreSQL: new opt-ins appear, opt-outs go, settings change."""
        self.apply(await self.rows.sleepers())
        return list(self.by_name.values())

    def apply(self, rows: Iterable[dict[str, Any]]) -> None:
        seen: set[str] = set()
        for row in rows:
            name = str(row["name"])
            seen.add(name)
            found = self.by_name.get(name)
            if found is None or found.project_id != row["id"]:
                phase = Phase.ASLEEP if row["asleep"] else Phase.AWAKE
                found = Sleeper(
                    row["id"], name, str(row["kind"]), int(row["idle_timeout"]), 1, phase
                )
                self.by_name[name] = found
            found.kind = str(row["kind"])
            found.idle_timeout = int(row["idle_timeout"])
            found.instances_wanted = max(1, int(row["instances"]))
            if not row["asleep"] and found.phase == Phase.ASLEEP:
                found.phase = Phase.AWAKE  # woken by a push (a new release wakes it)
        for name in set(self.by_name) - seen:
            del self.by_name[name]
        self._synced = True

    async def get(self, name: str) -> Sleeper | None:
        """The sleeper of ``name`` (reading PostgreSQL once when it is not known yet)."""
        found = self.by_name.get(name)
        if found is None:
            await self.sync()
            found = self.by_name.get(name)
        return found

    async def route(self, nomad_targets: list[Target]) -> list[Target]:
        """Fabio's targets: Nomad's, with sleeping projects' pointed at the activator."""
        if not self._synced:
            try:
                await self.sync()
            except Exception:  # the edge of the route table: Nomad's routes still count
                log.exception("sleeping projects unreadable; routing Nomad's instances only")
                return nomad_targets
        healthy = {t.project for t in nomad_targets if t.healthy}
        via_activator: set[str] = set()
        for sleeper in self.by_name.values():
            if sleeper.phase == Phase.AWAKE and sleeper.name in healthy:
                sleeper.direct = True
            if sleeper.proxied or sleeper.phase != Phase.AWAKE or not sleeper.direct:
                via_activator.add(sleeper.name)
        host, port = self._activator
        kept = [t for t in nomad_targets if t.project not in via_activator]
        return kept + [
            Target(project=name, address=host, port=port, healthy=True)
            for name in sorted(via_activator)
        ]
