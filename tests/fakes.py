"""Named fakes for the seams the gateway calls but other parts implement (unit and gateway
tests only; the database under the gateway stays real).

``RecordingScheduler`` stands in for a *reachable* scheduler's reads (instances, logs) where
a test needs one: it records calls and answers fixed data. ``FakeNomadScaling`` and
``FakeSleepRows`` stand in for Nomad's scale API and the sleep path's rows in the unit tests
of waking and sleeping.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from uuid import UUID, uuid4

from paastech.errors import DatabaseUnavailable, InvalidInput, NomadUnavailable
from paastech.services import Instance, LogLine


@dataclass
class RecordingScheduler:
    """A scheduler that answers and records what it was asked."""

    calls: list[tuple[str, UUID, int | None]] = field(default_factory=list)

    async def instances(self, project_id: UUID) -> list[Instance]:
        self.calls.append(("instances", project_id, None))
        now = dt.datetime.now(dt.UTC)
        return [
            Instance(
                id="alloc-1", status="running", started_at=now, address="127.0.0.1:20000", release=1
            )
        ]

    def logs(self, project_id: UUID, lines: int, follow: bool) -> AsyncIterator[LogLine]:
        self.calls.append(("logs", project_id, lines))

        async def gen() -> AsyncIterator[LogLine]:
            now = dt.datetime.now(dt.UTC)
            for i in range(min(lines, 3)):
                yield LogLine(ts=now, instance="alloc-1", stream="stdout", line=f"line {i}")

        return gen()


@dataclass
class FakeNomadServices:
    """The read side of Nomad's native services for the route source: registrations by
    service name, check results by allocation; ``down`` makes every call NomadUnavailable."""

    registrations: dict[str, list[dict[str, object]]] = field(default_factory=dict)
    checks: dict[str, dict[str, dict[str, object]]] = field(default_factory=dict)
    down: bool = False
    index: int = 1
    reads: int = 0
    """``service`` calls made (registrations read)."""

    def _up(self) -> None:
        if self.down:
            raise NomadUnavailable("nomad: connection refused (fake)")

    async def services(self) -> list[str]:
        self._up()
        return sorted(self.registrations)

    async def watch_services(self, index: int = 0) -> tuple[list[str], int]:
        """Like a blocking query: with an ``index``, returns once ``add`` moved past it (or a
        few seconds passed)."""
        self._up()
        for _ in range(100):
            if not index or self.index > index:
                break
            await asyncio.sleep(0.05)
        return sorted(self.registrations), self.index

    async def service(self, name: str) -> list[dict[str, object]]:
        self._up()
        self.reads += 1
        return list(self.registrations.get(name, []))

    async def allocation_checks(self, alloc_id: str) -> dict[str, dict[str, object]]:
        self._up()
        return dict(self.checks.get(alloc_id, {}))

    def add(
        self, project: str, alloc: str, port: int, *statuses: str, address: str = "127.0.0.1"
    ) -> None:
        """One instance of ``project`` whose checks last reported ``statuses``."""
        name = f"paastech-{project}"
        self.registrations.setdefault(name, []).append(
            {"ServiceName": name, "AllocID": alloc, "Address": address, "Port": port}
        )
        self.checks[alloc] = {
            f"{alloc}-{i}": {"Service": name, "Status": status, "Mode": "healthiness"}
            for i, status in enumerate(statuses)
        }
        self.index += 1


@dataclass
class FakeDomains:
    """Custom domains by project; ``fail`` makes the read a DatabaseUnavailable."""

    domains: dict[str, list[str]] = field(default_factory=dict)
    fail: bool = False

    async def hostnames(self) -> dict[str, list[str]]:
        if self.fail:
            raise DatabaseUnavailable("postgres: connection refused (fake)")
        return {k: list(v) for k, v in self.domains.items()}


@dataclass
class FakeNomadLogs:
    """Allocations of one job and their log files, as Nomad's log API serves them: ``logs``
    from a byte offset; with ``follow`` it then waits for bytes appended by ``write``."""

    allocations: list[dict[str, object]] = field(default_factory=list)
    files: dict[tuple[str, str], bytearray] = field(default_factory=dict)
    reads: list[tuple[str, str, int, bool]] = field(default_factory=list)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _index: int = 1

    def alloc(self, alloc_id: str, status: str = "running", created: int = 0) -> None:
        found = [a for a in self.allocations if a["ID"] == alloc_id]
        if found:
            found[0]["ClientStatus"] = status
        else:
            self.allocations.append({"ID": alloc_id, "ClientStatus": status, "CreateTime": created})
        self._bump()

    def write(self, alloc_id: str, stream: str, data: bytes) -> None:
        self.files.setdefault((alloc_id, stream), bytearray()).extend(data)
        self._bump()

    def _bump(self) -> None:
        self._index += 1
        self._changed.set()
        self._changed = asyncio.Event()

    async def job_allocations(self, job_id: str, index: int = 0) -> tuple[list[object], int]:
        while index and index >= self._index:
            await self._changed.wait()
        return [dict(a) for a in self.allocations], self._index

    async def log_size(self, alloc_id: str, task: str, stream: str) -> int:
        return len(self.files.get((alloc_id, stream), b""))

    async def logs(
        self, alloc_id: str, task: str, stream: str, *, offset: int = 0, follow: bool = False
    ) -> AsyncIterator[bytes]:
        self.reads.append((alloc_id, stream, offset, follow))
        position = offset
        while True:
            data = bytes(self.files.get((alloc_id, stream), b""))
            if len(data) > position:
                yield data[position:]
                position = len(data)
            if not follow:
                return
            await self._changed.wait()


@dataclass
class LateLogNomad:
    """Nomad as a build job's follower sees it: one allocation and its task's log.

    Like Nomad's, the followed log stream passes written bytes on late -- here only at
    ``pass_on()`` -- while a read without ``follow`` gets everything written so far. The
    allocation turns terminal (for a blocking query) only at ``finish()``.
    """

    alloc_id: str = "alloc-1"
    node: str = "node-1"
    written: bytearray = field(default_factory=bytearray)
    passed: int = 0
    reads: list[tuple[str, int, bool]] = field(default_factory=list)
    status: str = "running"
    _passed_more: asyncio.Event = field(default_factory=asyncio.Event)
    _terminal: asyncio.Event = field(default_factory=asyncio.Event)

    def write(self, text: str) -> None:
        self.written.extend(text.encode())

    def pass_on(self) -> None:
        self.passed = len(self.written)
        self._passed_more.set()
        self._passed_more = asyncio.Event()

    def finish(self, status: str = "complete") -> None:
        self.status = status
        self._terminal.set()

    def _alloc(self) -> dict[str, object]:
        alloc: dict[str, object] = {
            "ID": self.alloc_id,
            "NodeName": self.node,
            "CreateIndex": 1,
            "ClientStatus": self.status,
        }
        if self._terminal.is_set():
            code = 0 if self.status == "complete" else 1
            event = {"Type": "Terminated", "ExitCode": code, "DisplayMessage": f"Exit Code: {code}"}
            alloc["TaskStates"] = {"build": {"Events": [event]}}
        return alloc

    async def job_allocations(self, job_id: str, index: int = 0) -> tuple[list[object], int]:
        return [self._alloc()], 1

    async def allocation(self, alloc_id: str, index: int = 0) -> tuple[dict[str, object], int]:
        if index:
            await self._terminal.wait()
        return self._alloc(), index + 1

    async def logs(
        self, alloc_id: str, task: str, stream: str, *, offset: int = 0, follow: bool = False
    ) -> AsyncIterator[bytes]:
        self.reads.append((stream, offset, follow))
        if stream != "stdout":
            return
        position = offset
        while True:
            end = self.passed if follow else len(self.written)
            if end > position:
                yield bytes(self.written[position:end])
                position = end
            if not follow:
                return
            await self._passed_more.wait()


@dataclass
class RecordedMarks:
    """Stands in for the Build row: the columns a builder set, in order."""

    marks: list[dict[str, object]] = field(default_factory=list)

    async def __call__(self, build_id: UUID, **values: object) -> None:
        self.marks.append(values)


@dataclass
class FakeNomadScaling:
    """The part of Nomad that waking and sleeping use: one ``web`` group whose count the
    scale API sets. A scale up places one allocation per missing instance, at ``port``; the
    first ``refusals`` scale calls answer as Nomad does during a deployment (400)."""

    port: int = 0
    count: int = 0
    refusals: int = 0
    scales: list[int] = field(default_factory=list)
    allocs: list[dict[str, object]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    index: int = 1

    def job_doc(self) -> dict[str, object]:
        return {
            "ID": "paastech-app",
            "Meta": {"paastech.release": "3"},
            "TaskGroups": [{"Name": "web", "Count": self.count}],
        }

    async def job(self, job_id: str) -> dict[str, object]:
        return self.job_doc()

    async def scale(self, job_id: str, group: str, count: int, message: str) -> None:
        if self.refusals:
            self.refusals -= 1
            raise InvalidInput("scale refused: job scaling blocked due to active deployment")
        self.scales.append(count)
        self.count = count
        live = [a for a in self.allocs if a["DesiredStatus"] == "run"]
        for alloc in live[count:]:
            alloc["DesiredStatus"] = "stop"
            alloc["ClientStatus"] = "complete"
        for n in range(len(live), count):
            self.allocs.append(self._alloc(f"alloc-{len(self.allocs) + 1}-{n}"))
        self.index += 1
        self.changed.set()

    def _alloc(self, alloc_id: str) -> dict[str, object]:
        now_ns = time.time_ns()
        return {
            "ID": alloc_id,
            "DesiredStatus": "run",
            "ClientStatus": "running",
            "CreateIndex": self.index,
            "CreateTime": now_ns,
            "AllocatedResources": {
                "Shared": {"Ports": [{"Label": "http", "Value": self.port, "HostIP": "127.0.0.1"}]}
            },
            "TaskStates": {
                "app": {
                    "Events": [
                        {"Type": "Received", "Time": now_ns},
                        {"Type": "Task Setup", "Time": now_ns + 1_000_000},
                        {"Type": "Started", "Time": now_ns + 2_000_000},
                    ]
                }
            },
        }

    async def job_allocations(self, job_id: str, index: int = 0) -> tuple[list[object], int]:
        while index and index >= self.index:
            self.changed.clear()
            await self.changed.wait()
        return [dict(a) for a in self.allocs], self.index

    async def allocation(self, alloc_id: str, index: int = 0) -> tuple[dict[str, object], int]:
        found = next(a for a in self.allocs if a["ID"] == alloc_id)
        return dict(found), self.index


@dataclass
class FakeSleepRows:
    """``SleepRows`` in memory: the projects that may sleep, and every write made."""

    projects: list[dict[str, object]] = field(default_factory=list)
    writes: list[tuple[str, object]] = field(default_factory=list)
    cold_starts: list[tuple[object, int]] = field(default_factory=list)

    def add(self, name: str, kind: str = "function", idle_timeout: int = 10) -> UUID:
        project_id = uuid4()
        self.projects.append(
            {
                "id": project_id,
                "name": name,
                "kind": kind,
                "scale_to_zero": True,
                "asleep": False,
                "idle_timeout": idle_timeout,
                "instances": 1,
            }
        )
        return project_id

    async def sleepers(self) -> list[dict[str, object]]:
        return [dict(p) for p in self.projects]

    async def sleepable(self) -> set[UUID]:
        return {p["id"] for p in self.projects if not p["asleep"]}  # type: ignore[misc]

    async def mark_asleep(self, project_id: UUID, asleep: bool) -> None:
        self.writes.append(("asleep" if asleep else "awake", project_id))
        for p in self.projects:
            if p["id"] == project_id:
                p["asleep"] = asleep

    async def count(self, project_id: UUID, new: int, last: float) -> None:
        self.writes.append(("count", new))

    async def record_cold_start(self, project_id: UUID, wake: object, total_ms: int) -> None:
        self.cold_starts.append((wake, total_ms))
