"""Seams between the gateway, the forge and the scheduler.

The gateway depends on these Protocols only; the forge and the scheduler implement them.
Where an implementation does not exist (or its backend is down) the ``Unavailable*``
variants raise :class:`~paastech.errors.BackendUnavailable`, which the gateway renders as
503: the database side of a request is real, the backend side is never faked.
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


class RepoStore(Protocol):
    """Bare git repositories, one per project (implemented by the forge)."""

    def create(self, project_id: UUID) -> None: ...

    def delete(self, project_id: UUID) -> None: ...


class Scheduler(Protocol):
    """Running applications (implemented by the scheduler)."""

    async def deploy(self, project_id: UUID, version: int) -> None:
        """Run release ``version`` of the project (health-gated)."""

    async def scale(self, project_id: UUID, instances: int) -> None: ...

    async def destroy(self, project_id: UUID) -> None:
        """Stop the app and remove its job, routes and images."""

    async def instances(self, project_id: UUID) -> list[Instance]: ...

    def logs(self, project_id: UUID, lines: int, follow: bool) -> AsyncIterator[LogLine]: ...


@dataclass
class UnavailableScheduler:
    """The scheduler stand-in while no orchestrator backend is wired: every call is a 503."""

    reason: str = "scheduler backend (Nomad) is not available"

    def _fail(self) -> BackendUnavailable:
        return BackendUnavailable(self.reason)

    async def deploy(self, project_id: UUID, version: int) -> None:
        raise self._fail()

    async def scale(self, project_id: UUID, instances: int) -> None:
        raise self._fail()

    async def destroy(self, project_id: UUID) -> None:
        raise self._fail()

    async def instances(self, project_id: UUID) -> list[Instance]:
        raise self._fail()

    def logs(self, project_id: UUID, lines: int, follow: bool) -> AsyncIterator[LogLine]:
        raise self._fail()


@dataclass
class Services:
    """What the gateway needs from the rest of the platform, injected at app creation."""

    repos: RepoStore
    scheduler: Scheduler = field(default_factory=UnavailableScheduler)
