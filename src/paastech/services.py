"""Seams between the gateway, the forge and the scheduler.

Writes never cross these seams: the gateway and the forge write intent into PostgreSQL
(:mod:`paastech.releases`) and the scheduler reconciles Nomad towards it. What the gateway
reads from the running system goes through :class:`Scheduler` (implemented by
:class:`paastech.scheduler.runtime.RuntimeReads`); where no Nomad is configured,
:class:`UnavailableScheduler` answers :class:`~paastech.errors.BackendUnavailable`, which the
gateway renders as 503 — never a fake empty list. The gateway never touches the forge's disk.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol
from uuid import UUID

from paastech.errors import BackendUnavailable


@dataclass(frozen=True)
class Instance:
    """One running allocation of a project."""

    id: str
    status: str
    started_at: dt.datetime | None
    address: str
    release: int | None


@dataclass(frozen=True)
class LogLine:
    """One runtime log line of one instance."""

    ts: dt.datetime
    instance: str
    stream: str
    line: str


class Scheduler(Protocol):
    """What runs of a project, read from the orchestrator (implemented by the scheduler)."""

    async def instances(self, project_id: UUID) -> list[Instance]: ...

    def logs(self, project_id: UUID, lines: int, follow: bool) -> AsyncIterator[LogLine]: ...


@dataclass
class UnavailableScheduler:
    """The scheduler stand-in while no orchestrator backend is wired: every call is a 503."""

    reason: str = "scheduler backend (Nomad) is not available"

    def _fail(self) -> BackendUnavailable:
        return BackendUnavailable(self.reason)

    async def instances(self, project_id: UUID) -> list[Instance]:
        raise self._fail()

    def logs(self, project_id: UUID, lines: int, follow: bool) -> AsyncIterator[LogLine]:
        raise self._fail()


@dataclass
class Services:
    """What the gateway needs from the rest of the platform, injected at app creation."""

    scheduler: Scheduler = field(default_factory=UnavailableScheduler)
