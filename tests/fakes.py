"""Named fakes for the seams the gateway calls but other parts implement (unit and gateway
tests only; the database under the gateway stays real).

``RecordingScheduler`` stands in for a *reachable* scheduler's reads (instances, logs) where
a test needs one: it records calls and answers fixed data.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from uuid import UUID

from paastech.errors import DatabaseUnavailable, NomadUnavailable
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

    def _up(self) -> None:
        if self.down:
            raise NomadUnavailable("nomad: connection refused (fake)")

    async def services(self) -> list[str]:
        self._up()
        return sorted(self.registrations)

    async def watch_services(self, index: int = 0) -> tuple[list[str], int]:
        self._up()
        return sorted(self.registrations), self.index

    async def service(self, name: str) -> list[dict[str, object]]:
        self._up()
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
