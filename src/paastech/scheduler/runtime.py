"""The read half of the :class:`~paastech.services.Scheduler` seam: instances and logs.

:class:`RuntimeReads` answers the gateway's ``…/instances`` and ``…/logs`` from Nomad (the
job ``paastech-<project>``); the scheduler service the gateway uses composes it with the
control-loop half (deploy, scale, destroy). Nothing here writes to Nomad.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from uuid import UUID

from paastech.db.tables import Project
from paastech.errors import NotFound
from paastech.scheduler.jobspec import job_id
from paastech.scheduler.logstream import TASK, merged_logs, shown
from paastech.scheduler.nomad import NomadApi, is_terminal
from paastech.scheduler.route_source import healthy
from paastech.services import Instance, LogLine

ProjectName = Callable[[UUID], Awaitable[str]]
_FRACTION = re.compile(r"(\.\d{6})\d+")


async def project_name(project_id: UUID) -> str:
    """The project's name from PostgreSQL (the tables' engine must be connected).

    Raises:
        NotFound: No such project.
    """
    row = await Project.select(Project.name).where(Project.id == project_id).first().run()
    if row is None:
        raise NotFound("no such project")
    return str(row["name"])


def started_at(alloc: dict[str, Any]) -> dt.datetime | None:
    """When the app's task last started (Nomad's zero time and absent states are None)."""
    state = (alloc.get("TaskStates") or {}).get(TASK) or {}
    raw = str(state.get("StartedAt") or "")
    if not raw or raw.startswith("0001-"):
        return None
    try:  # Nomad writes nanoseconds; Python reads at most microseconds
        return dt.datetime.fromisoformat(_FRACTION.sub(r"\1", raw).replace("Z", "+00:00"))
    except ValueError:
        return None


def status(alloc: dict[str, Any], checks: dict[str, dict[str, Any]], service: str) -> str:
    """What a user should read: ``running`` (checks pass), ``starting`` (no result yet),
    ``unhealthy`` (a check fails), else Nomad's client status (``pending``, ``failed`` …)."""
    client = str(alloc.get("ClientStatus", ""))
    if client != "running":
        return client
    mine = [c for c in checks.values() if c.get("Service") == service]
    if not mine:
        return "starting"
    return "running" if healthy(service, checks) else "unhealthy"


class RuntimeReads:
    """Instances and runtime logs of projects, read from Nomad."""

    def __init__(self, nomad_api: NomadApi, *, names: ProjectName = project_name) -> None:
        self._nomad = nomad_api
        self._names = names

    async def instances(self, project_id: UUID) -> list[Instance]:
        """The project's allocations: live ones, and crashed ones not yet replaced.

        ``address`` is the ``ip:port`` its service is registered at (empty before that);
        ``release`` comes from the meta of the job version the allocation runs.
        """
        job = job_id(await self._names(project_id))
        (allocs, _), versions, registrations = await asyncio.gather(
            self._nomad.job_allocations(job),
            self._nomad.job_versions(job),
            self._nomad.service(job),
        )
        allocs = sorted((a for a in allocs if shown(a)), key=lambda a: int(a["CreateTime"]))
        release = {int(v["Version"]): _release(v) for v in versions}
        address = {str(r["AllocID"]): f"{r['Address']}:{r['Port']}" for r in registrations}
        checks = await asyncio.gather(
            *(self._checks(a) for a in allocs),
        )
        return [
            Instance(
                id=str(a["ID"]),
                status=status(a, c, job),
                started_at=started_at(a),
                address=address.get(str(a["ID"]), ""),
                release=release.get(int(a.get("JobVersion", -1))),
            )
            for a, c in zip(allocs, checks, strict=True)
        ]

    def logs(self, project_id: UUID, lines: int, follow: bool) -> AsyncIterator[LogLine]:
        """Every instance's stdout and stderr merged (see :mod:`paastech.scheduler.logstream`:
        lines are stamped when they reach the platform, Nomad keeps no timestamps)."""

        async def stream() -> AsyncIterator[LogLine]:
            job = job_id(await self._names(project_id))
            async for line in merged_logs(self._nomad, job, lines, follow):
                yield line

        return stream()

    async def _checks(self, alloc: dict[str, Any]) -> dict[str, dict[str, Any]]:
        if is_terminal(alloc) or alloc.get("ClientStatus") != "running":
            return {}
        return await self._nomad.allocation_checks(str(alloc["ID"]))


def _release(version: dict[str, Any]) -> int | None:
    raw = str((version.get("Meta") or {}).get("paastech.release", ""))
    return int(raw) if raw.isdigit() else None
