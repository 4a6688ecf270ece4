"""The one way a project's instance count changes in Nomad, shared by the reconciler, the
activator and the idler.

PostgreSQL holds the truth: ``projects.instances`` and ``projects.asleep``; the wanted count is
:func:`desired_count` of the two. Each writer changes the row and calls the scale API under
the project's :class:`ScaleGate` lock, so a wake and a sweep never both scale up (one scale
event per wake) and the reconciler never undoes a sleep it has not read yet.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any
from uuid import UUID

from paastech.errors import InvalidInput
from paastech.scheduler.nomad import NomadApi

GROUP = "web"
_RETRY_SECONDS = 0.1


def desired_count(project: Mapping[str, Any]) -> int:
    """The count the reconciler applies: 0 while the project sleeps."""
    return 0 if project.get("asleep") else int(project["instances"])


def group_count(job: Mapping[str, Any]) -> int:
    """The ``web`` group's count in a Nomad job."""
    groups = {g["Name"]: g for g in job.get("TaskGroups") or []}
    return int((groups.get(GROUP) or {}).get("Count", 0))


class ScaleGate:
    """One lock per project around "change the row, then scale"."""

    def __init__(self) -> None:
        self._locks: dict[UUID, asyncio.Lock] = {}

    def lock(self, project_id: UUID) -> asyncio.Lock:
        return self._locks.setdefault(project_id, asyncio.Lock())


async def scale_retrying(
    nomad: NomadApi, job_id: str, count: int, message: str, deadline: float
) -> None:
    """Scale through the scale API, retrying while Nomad answers 400 (a deployment is active).

    Raises:
        InvalidInput: Nomad still refused at ``deadline`` (``time.monotonic()``).
    """
    while True:
        try:
            await nomad.scale(job_id, GROUP, count, message)
        except InvalidInput:
            if time.monotonic() + _RETRY_SECONDS >= deadline:
                raise
            await asyncio.sleep(_RETRY_SECONDS)
        else:
            return
