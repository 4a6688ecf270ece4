"""The idler: puts projects with ``scale_to_zero`` to sleep after their idle timeout.

Every ``scheduler.idle_check_seconds`` it reads each awake project's activity — a function's
from its shim's control ``/status`` (in-flight count, request total, last request), a
container app's from the activator it is routed through — adds new requests to
``projects.invocations``, and drains a project idle for its ``idle_timeout``:

1. its routes move to the activator (phase ``draining``), and the idler waits until Fabio has
   polled the new table;
2. it looks again: a request in flight or a new one (also one the activator forwarded to the
   still-running instance while draining) gives up the drain, the routes come back;
3. else, under the project's scale lock, ``asleep = true`` is written and the group scaled to
   0 (a 400 of an active deployment undoes the write; the next tick tries again). A request
   that arrives from now on wakes it again; the stopping instance finishes what it holds
   (the shim drains on SIGTERM).

Only the leader among scheduler replicas runs it (the control loop's advisory lock): two
idlers would drain and scale the same project twice. The activator runs on every replica.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from paastech.errors import InvalidInput, PaasTechError
from paastech.scheduler import jobspec
from paastech.scheduler.nomad import NomadApi
from paastech.scheduler.scaling import GROUP, ScaleGate
from paastech.scheduler.sleepers import Instance, Phase, Sleeper, Sleepers
from paastech.scheduler.wake import instance_of

log = logging.getLogger("paastech.scheduler.idler")


@dataclass(frozen=True)
class Activity:
    in_flight: int
    total: int
    last: float
    running: int


class Idler:
    """Reads activity, counts invocations, drains and scales idle projects to 0."""

    def __init__(
        self,
        nomad: NomadApi,
        sleepers: Sleepers,
        gate: ScaleGate,
        refresh_routes: Callable[[], Awaitable[object]],
        *,
        interval: float,
        route_delay: float,
        leading: asyncio.Event | None = None,
    ) -> None:
        self.nomad = nomad
        self.sleepers = sleepers
        self.gate = gate
        self.refresh_routes = refresh_routes
        self.interval = interval
        self.route_delay = route_delay
        self.leading = leading
        """Only the leader puts projects to sleep (None: always, as in a lone process)."""
        self._status = httpx.AsyncClient(timeout=httpx.Timeout(1.0, connect=0.5))
        self._allocs: dict[str, Instance] = {}
        self._seen: dict[str, int] = {}
        self._drains: dict[str, asyncio.Task[None]] = {}

    async def run(self) -> None:
        while True:
            if self.leading is not None:
                await self.leading.wait()
            try:
                await self.tick()
            except PaasTechError as exc:
                log.warning("idler tick: %s", exc.message)
            except Exception:  # the loop's edge: one bad tick must not stop the idler
                log.exception("idler tick crashed")
            await asyncio.sleep(self.interval)

    async def tick(self) -> None:
        sleepers = await self.sleepers.sync()
        sleepable = await self.sleepers.rows.sleepable()
        awake = [
            s
            for s in sleepers
            if s.project_id in sleepable and s.phase == Phase.AWAKE and s.name not in self._drains
        ]
        await asyncio.gather(*(self._check(s) for s in awake))

    async def _check(self, sleeper: Sleeper) -> None:
        try:
            activity = await self.activity(sleeper)
        except PaasTechError as exc:
            log.info("activity of %s unreadable: %s", sleeper.name, exc.message)
            return
        if activity.running == 0 or activity.in_flight:
            return
        if time.time() - activity.last < sleeper.idle_timeout:
            return
        task = asyncio.create_task(self._drain(sleeper, activity), name=f"drain {sleeper.name}")
        self._drains[sleeper.name] = task
        task.add_done_callback(lambda _: self._drains.pop(sleeper.name, None))

    async def activity(self, sleeper: Sleeper) -> Activity:
        """The project's activity now (and its instances, for the activator)."""
        job_id = jobspec.job_id(sleeper.name)
        allocs, _ = await self.nomad.job_allocations(job_id)
        running = [
            a
            for a in allocs
            if a.get("DesiredStatus") == "run" and a.get("ClientStatus") == "running"
        ]
        instances = [await self._instance(str(a["ID"])) for a in running]
        # Nomad's servers learn that a task runs a little after it answers: an instance the
        # waker saw answering stays while its allocation is still wanted.
        wanted = {str(a["ID"]) for a in allocs if a.get("DesiredStatus") == "run"}
        known = {i.alloc_id for i in instances}
        instances += [
            i for i in sleeper.instances if i.alloc_id in wanted and i.alloc_id not in known
        ]
        sleeper.instances = instances
        last = max(sleeper.last_request, sleeper.woken_at)
        in_flight = sleeper.in_flight
        total = sleeper.total
        new = 0
        if not sleeper.proxied:
            for instance in instances:
                status = await self._shim_status(instance)
                in_flight += int(status.get("in_flight") or 0)
                seen = int(status.get("requests_total") or 0)
                new += max(0, seen - self._seen.get(instance.alloc_id, 0))
                self._seen[instance.alloc_id] = seen
                total += seen
                last = max(
                    last,
                    float(status.get("last_request_at") or 0),
                    float(status.get("started_at") or 0),
                )
        else:
            new = sleeper.total - sleeper.flushed
            sleeper.flushed = sleeper.total
        if new:
            await self.sleepers.rows.count(sleeper.project_id, new, last)
        return Activity(in_flight, total, last, len(running))

    async def _instance(self, alloc_id: str) -> Instance:
        found = self._allocs.get(alloc_id)
        if found is None:
            alloc, _ = await self.nomad.allocation(alloc_id)
            found = instance_of(alloc)
            self._allocs[alloc_id] = found
        return found

    async def _shim_status(self, instance: Instance) -> dict[str, Any]:
        if instance.control_port is None:
            return {}
        url = f"http://{instance.address}:{instance.control_port}/status"
        try:
            response = await self._status.get(url)
            response.raise_for_status()
            found: dict[str, Any] = response.json()
        except (httpx.HTTPError, ValueError):
            # Unreadable counts as busy: never sleep on a guess.
            return {"in_flight": 1}
        return found

    async def _drain(self, sleeper: Sleeper, before: Activity) -> None:
        sleeper.phase = Phase.DRAINING
        sleeper.interrupted = False
        try:
            await self.refresh_routes()
            await asyncio.sleep(self.route_delay)  # Fabio has polled the activator's route
            if await self._busy(sleeper, before):
                self._abort(sleeper)
                return
            async with self.gate.lock(sleeper.project_id):
                if sleeper.interrupted or sleeper.in_flight:
                    self._abort(sleeper)
                    return
                await self._sleep(sleeper)
        except PaasTechError as exc:
            log.warning("drain of %s gave up: %s", sleeper.name, exc.message)
            self._abort(sleeper)
        finally:
            if sleeper.phase != Phase.DRAINING:
                await _quietly(self.refresh_routes())

    async def _busy(self, sleeper: Sleeper, before: Activity) -> bool:
        if sleeper.interrupted:
            return True
        after = await self.activity(sleeper)
        return bool(after.in_flight) or after.total != before.total or sleeper.interrupted

    async def _sleep(self, sleeper: Sleeper) -> None:
        await self.sleepers.rows.mark_asleep(sleeper.project_id, True)
        try:
            await self.nomad.scale(
                jobspec.job_id(sleeper.name),
                GROUP,
                0,
                f"sleep: idle for {sleeper.idle_timeout} s",
            )
        except InvalidInput:
            await self.sleepers.rows.mark_asleep(sleeper.project_id, False)
            raise
        sleeper.phase = Phase.ASLEEP
        sleeper.instances = []
        sleeper.direct = False
        log.info("%s asleep after %d s idle", sleeper.name, sleeper.idle_timeout)

    def _abort(self, sleeper: Sleeper) -> None:
        if sleeper.phase == Phase.DRAINING:
            sleeper.phase = Phase.AWAKE
            sleeper.woken_at = time.time()


async def _quietly(work: Awaitable[object]) -> None:
    try:
        await work
    except PaasTechError as exc:
        log.warning("route refresh: %s", exc.message)
