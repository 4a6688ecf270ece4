"""Waking a sleeping project: one scale-up however many requests wait, and its breakdown.

:meth:`Waker.wake` coalesces: the first held request starts the wake, every other one awaits
the same task. The wake writes ``asleep = false`` and scales through the scale API under the
project's :class:`~paastech.scheduler.scaling.ScaleGate` lock (retrying while Nomad answers
400 for an active deployment), follows the job's allocations with blocking queries until one
is placed, then probes that allocation's **own address** (the shim's control ``/healthz`` for
a function, a TCP connect for a container) every few milliseconds — the held requests go
there as soon as it answers, not when Fabio next polls its feed.

The breakdown (times since the first request arrived): *placed* (the allocation's
``CreateTime``), *image ready* (the task's last event before ``Started``: ``Task Setup``, or
the driver's image download), *started* (``Started``), *first healthy answer* (the probe).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from paastech.errors import PaasTechError, WakeFailed
from paastech.scheduler import jobspec
from paastech.scheduler.nomad import NomadApi, is_terminal
from paastech.scheduler.scaling import ScaleGate, group_count, scale_retrying
from paastech.scheduler.sleepers import Breakdown, Instance, Phase, Sleeper, SleepRows

log = logging.getLogger("paastech.scheduler.wake")

_PROBE_SECONDS = 0.015
_SETTLE_READS = 20
_SETTLE_PAUSE = 0.25


class Waker:
    """Scales sleeping projects up, once per wake, and finds their new instance."""

    def __init__(
        self,
        nomad: NomadApi,
        gate: ScaleGate,
        hold_seconds: float,
        refresh_routes: Callable[[], Awaitable[object]],
        rows: SleepRows | None = None,
    ) -> None:
        self.nomad = nomad
        self.gate = gate
        self.rows = rows or SleepRows()
        self.hold_seconds = hold_seconds
        self.refresh_routes = refresh_routes
        self._probe = httpx.AsyncClient(timeout=httpx.Timeout(0.5, connect=0.2))
        self._background: set[asyncio.Task[Any]] = set()

    def wake(self, sleeper: Sleeper, arrived: float) -> asyncio.Task[Breakdown]:
        """The wake under way for ``sleeper``, started now when there is none."""
        task = sleeper.wake
        if task is None or task.done():
            sleeper.phase = Phase.WAKING
            sleeper.direct = False
            task = asyncio.create_task(self._wake(sleeper, arrived), name=f"wake {sleeper.name}")
            sleeper.wake = task
        return task

    async def _wake(self, sleeper: Sleeper, arrived: float) -> Breakdown:
        # The first held request's hold time bounds the wake: when it runs out, the wake has
        # already given up (and the project counts as asleep) before that request's 503.
        deadline = time.monotonic() + self.hold_seconds - max(0.0, time.time() - arrived)
        breakdown = Breakdown(started_at=arrived)
        job_id = jobspec.job_id(sleeper.name)
        try:
            async with self.gate.lock(sleeper.project_id):
                await self.rows.mark_asleep(sleeper.project_id, False)
                job = await self.nomad.job(job_id)
                breakdown.release = _release_of(job)
                if group_count(job) < sleeper.instances_wanted:
                    await scale_retrying(
                        self.nomad,
                        job_id,
                        sleeper.instances_wanted,
                        "wake: a request arrived",
                        deadline,
                    )
            alloc = await self._placed(job_id, deadline)
            _phases(breakdown, alloc, arrived)
            instance = instance_of(alloc)
            probes = await self._answering(sleeper, instance, deadline)
            # An instance placed before the request came that answered at once: the request
            # waited for nothing (the activator had not heard of it yet), no cold start.
            breakdown.cold = probes > 1 or int(alloc.get("CreateTime") or 0) / 1e9 >= arrived
        except PaasTechError:
            sleeper.phase = Phase.ASLEEP if not sleeper.instances else Phase.AWAKE
            raise
        except TimeoutError as exc:
            sleeper.phase = Phase.ASLEEP if not sleeper.instances else Phase.AWAKE
            raise WakeFailed(
                f"{sleeper.name} did not answer within {self.hold_seconds:g} s"
            ) from exc
        answered = time.time()
        sleeper.instances = [instance]
        sleeper.phase = Phase.AWAKE
        sleeper.woken_at = answered
        breakdown.first_answer_ms = _ms(answered - arrived)
        self._spawn(self.refresh_routes())
        self._spawn(self._settle(breakdown, instance.alloc_id, arrived))
        return breakdown

    async def _settle(self, breakdown: Breakdown, alloc_id: str, arrived: float) -> None:
        """Fill the breakdown's task phases once Nomad has them: its client reports the task's
        events a little after the app already answers, and the held requests do not wait."""
        # Short reads a few times rather than a blocking query each: twenty wakes at once
        # must not hold twenty of the agent's connections for seconds.
        try:
            for _ in range(_SETTLE_READS):
                await asyncio.sleep(_SETTLE_PAUSE)
                alloc, _ = await self.nomad.allocation(alloc_id)
                _phases(breakdown, alloc, arrived)
                if breakdown.started_ms is not None:
                    return
        except PaasTechError as exc:
            log.info("cold start phases of %s unread: %s", alloc_id, exc.message)
        finally:
            breakdown.settled.set()

    async def _placed(self, job_id: str, deadline: float) -> dict[str, Any]:
        index = 0
        async with asyncio.timeout(max(0.01, deadline - time.monotonic())):
            while True:
                allocs, index = await self.nomad.job_allocations(job_id, index)
                live = [a for a in allocs if a.get("DesiredStatus") == "run" and not is_terminal(a)]
                if live:
                    newest = max(live, key=lambda a: int(a.get("CreateIndex") or 0))
                    full, _ = await self.nomad.allocation(str(newest["ID"]))
                    return full

    async def _answering(self, sleeper: Sleeper, instance: Instance, deadline: float) -> int:
        """Probe until the instance answers; how many probes that took."""
        probes = 0
        async with asyncio.timeout(max(0.01, deadline - time.monotonic())):
            while True:
                probes += 1
                if await self._answers(sleeper, instance):
                    return probes
                await asyncio.sleep(_PROBE_SECONDS)

    async def _answers(self, sleeper: Sleeper, instance: Instance) -> bool:
        if instance.control_port is not None and not sleeper.proxied:
            try:
                url = f"http://{instance.address}:{instance.control_port}/healthz"
                response = await self._probe.get(url)
            except httpx.HTTPError:
                return False
            return response.status_code == 200
        # asyncio.timeout, not wait_for, inside _answering's deadline: on Python 3.11 a
        # wait_for whose connect has just been refused returns that error in place of the
        # deadline's cancellation, and the expired deadline would never end the probing.
        try:
            async with asyncio.timeout(0.2):
                _, writer = await asyncio.open_connection(instance.address, instance.port)
        except (OSError, TimeoutError):
            return False
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return True

    def spawn(self, work: Awaitable[object]) -> None:
        """Run ``work`` after the request that started it (failures logged, never raised)."""
        self._spawn(work)

    def _spawn(self, work: Awaitable[object]) -> None:
        async def run() -> None:
            try:
                await work
            except PaasTechError as exc:
                log.warning("after a wake: %s", exc.message)

        task = asyncio.create_task(run())
        self._background.add(task)
        task.add_done_callback(self._background.discard)


def _ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))


def _release_of(job: dict[str, Any]) -> int | None:
    value = str((job.get("Meta") or {}).get("paastech.release", ""))
    return int(value) if value.isdigit() else None


def instance_of(alloc: dict[str, Any]) -> Instance:
    """The app's and the control port's host addresses of an allocation."""
    shared = (alloc.get("AllocatedResources") or {}).get("Shared") or {}
    ports = {str(p.get("Label")): p for p in shared.get("Ports") or []}
    http = ports.get("http")
    if http is None:
        raise WakeFailed(f"allocation {alloc.get('ID')} has no http port")
    control = ports.get("control")
    return Instance(
        alloc_id=str(alloc["ID"]),
        address=str(http.get("HostIP") or "127.0.0.1"),
        port=int(http["Value"]),
        control_port=int(control["Value"]) if control else None,
    )


def _phases(breakdown: Breakdown, alloc: dict[str, Any], arrived: float) -> None:
    created = alloc.get("CreateTime")
    if created:
        breakdown.placed_ms = _ms(int(created) / 1e9 - arrived)
    events = ((alloc.get("TaskStates") or {}).get("app") or {}).get("Events") or []
    before_start: float | None = None
    for event in events:
        at = int(event.get("Time") or 0) / 1e9
        if event.get("Type") == "Started":
            breakdown.started_ms = _ms(at - arrived)
            if before_start is not None:
                breakdown.image_ready_ms = _ms(before_start - arrived)
            break
        if event.get("Type") in {"Task Setup", "Driver"}:
            before_start = at
