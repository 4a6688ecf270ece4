"""The scheduler process: Fabio's route feed, and the control loop that reconciles Nomad.

- **Leader**: several replicas may run; the one holding a PostgreSQL advisory lock (on a
  connection of its own) reconciles, the others serve the feed and wait. A lost connection
  (PostgreSQL restarted) ends the leadership; the loop starts over and takes it again.
- **Triggers**: ``LISTEN`` on :data:`~paastech.releases.RECONCILE_CHANNEL` (a project id:
  "look again") and a periodic sweep of every project with a release, which also catches
  anything a lost notification missed and whatever a restart of Nomad took away.
- **Followers**: one :class:`~paastech.scheduler.follow.DeploymentFollower` per deploying
  release, kept by :class:`Supervisor`; one that dies (Nomad away) is started again by the
  next reconcile of its project.
- **Outbox**: the side effects of a deleted project that are the scheduler's (its job and
  registry tags), carried out after the commit, retried until they succeed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

import asyncpg
import uvicorn

from paastech import db, releases
from paastech.crypto import EnvCipher
from paastech.db.tables import Release
from paastech.errors import InvalidSettings, PaasTechError
from paastech.scheduler import jobspec
from paastech.scheduler.activator import Activator
from paastech.scheduler.feed import create_feed_app
from paastech.scheduler.follow import DeploymentFollower
from paastech.scheduler.idler import Idler
from paastech.scheduler.nomad import NomadApi
from paastech.scheduler.reconcile import Reconciler
from paastech.scheduler.registry import RegistryApi
from paastech.scheduler.route_source import RouteSource
from paastech.scheduler.routes import RouteDef
from paastech.scheduler.scaling import ScaleGate
from paastech.scheduler.sleepers import Sleepers
from paastech.scheduler.wake import Waker
from paastech.settings import Settings

log = logging.getLogger("paastech.scheduler")

LEADER_LOCK = 0x7061_6173_7363_6864  # "paasschd"
RETRY_SECONDS = 2.0


def seconds(duration: str) -> float:
    """A Go duration as Fabio's settings spell them (``500ms``, ``1s``, ``2m``) in seconds."""
    units = {"ms": 0.001, "s": 1.0, "m": 60.0}
    for suffix in ("ms", "s", "m"):
        if duration.endswith(suffix):
            try:
                return float(duration.removesuffix(suffix)) * units[suffix]
            except ValueError:
                break
    raise InvalidSettings(f"fabio.poll_interval: {duration!r} is not a duration like 1s")


class Supervisor:
    """At most one follower task per (project, release version)."""

    def __init__(
        self,
        nomad: NomadApi,
        route_delay: float,
        refresh_routes: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        self.nomad = nomad
        self.route_delay = route_delay
        self.refresh_routes = refresh_routes
        self.tasks: dict[tuple[UUID, int], asyncio.Task[None]] = {}

    def follow(self, project: dict[str, Any], release: dict[str, Any]) -> None:
        key = (project["id"], int(release["version"]))
        running = self.tasks.get(key)
        if running is not None and not running.done():
            return
        follower = DeploymentFollower(
            self.nomad, project, release, self.route_delay, self.refresh_routes
        )
        task = asyncio.create_task(self._guard(follower), name=f"follow {project['name']}")
        self.tasks[key] = task
        task.add_done_callback(lambda _: self.tasks.pop(key, None))

    async def _guard(self, follower: DeploymentFollower) -> None:
        try:
            await follower.run()
        except PaasTechError as exc:
            # Nomad or PostgreSQL went away: the next reconcile starts a follower again.
            log.warning("following %s stopped: %s", follower.job_id, exc.message)

    async def stop(self) -> None:
        for task in list(self.tasks.values()):
            task.cancel()
        for task in list(self.tasks.values()):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


_SWEEP_STATE = """
SELECT p.id, p.name,
       md5(concat_ws('|', p.instances, p.asleep, p.cpu, p.memory, p.scale_to_zero, p.kind,
           (SELECT string_agg(r.version || ':' || r.status, ',' ORDER BY r.version)
              FROM releases r WHERE r.project = p.id))) AS fingerprint,
       EXISTS (SELECT 1 FROM releases r
                WHERE r.project = p.id AND r.status IN ('pending', 'deploying')) AS moving
  FROM projects p
 WHERE EXISTS (SELECT 1 FROM releases r WHERE r.project = p.id)
"""


class ControlLoop:
    """The leader's work: reconcile on NOTIFY and on every sweep, run the outbox."""

    def __init__(
        self,
        settings: Settings,
        nomad: NomadApi,
        refresh_routes: Callable[[], Awaitable[object]] | None = None,
        gate: ScaleGate | None = None,
    ) -> None:
        self.settings = settings
        self.nomad = nomad
        # Fabio sees a new table within one poll (and its timeout): then it serves the release.
        self.supervisor = Supervisor(
            nomad, seconds(settings.fabio.poll_interval) + 0.5, refresh_routes
        )
        self.reconciler = Reconciler(
            settings, nomad, EnvCipher(settings.secrets.env_key), self.supervisor.follow, gate
        )
        self.registry = RegistryApi(settings.registry)
        self.queue: asyncio.Queue[str] = asyncio.Queue()
        self._swept: dict[UUID, tuple[Any, ...]] = {}
        """What the last sweep saw of each project (skipped next time when still so)."""
        self.leading = asyncio.Event()
        """Set while this replica holds the leader lock (the idler acts only then)."""

    async def run(self) -> None:
        """Lead while the lock's connection lives; on losing it, start over."""
        while True:
            try:
                await self._lead()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("control loop lost PostgreSQL (%s); retrying", type(exc).__name__)
            finally:
                await self.supervisor.stop()
            await asyncio.sleep(RETRY_SECONDS)

    async def _lead(self) -> None:
        conn = await asyncpg.connect(self.settings.db.dsn(), timeout=10)
        try:
            # Blocks until the leader (if any) is gone: its session's lock goes with it.
            await conn.execute("SELECT pg_advisory_lock($1)", LEADER_LOCK)
            log.info("leading the control loop")
            self.leading.set()
            self._swept = {}

            def wake(_c: object, _pid: int, _channel: str, payload: str) -> None:
                self.queue.put_nowait(payload)

            await conn.add_listener(releases.RECONCILE_CHANNEL, wake)
            await conn.add_listener(releases.OUTBOX_CHANNEL, lambda *_: wake(None, 0, "", ""))
            await self.sweep()
            sweep = self.settings.scheduler.sweep_seconds
            while not conn.is_closed():
                try:
                    payload = await asyncio.wait_for(self.queue.get(), timeout=sweep)
                except TimeoutError:
                    await conn.fetchval("SELECT 1")  # the lock's connection is still there
                    await self.sweep()
                    continue
                if payload:
                    await self._reconcile(UUID(payload))
                await self.outbox()
        finally:
            self.leading.clear()
            with contextlib.suppress(Exception):
                await conn.close()

    async def sweep(self) -> None:
        """Reconcile every project that has a release, then run the outbox.

        A project whose wanted state (its row's fingerprint in PostgreSQL) and whose job in
        Nomad (its ``JobModifyIndex`` in one list of the jobs) are both as the last sweep saw
        them, with no release on its way, is skipped: nothing can have drifted. A state is
        remembered only once its reconcile went through, so a project whose step failed or
        that Nomad refused for now (a scale during a deployment) is tried again. That keeps
        fifty sleeping functions from costing fifty job reads every sweep. The first sweep
        of a leader reconciles every project."""
        rows = await Release.raw(_SWEEP_STATE).run()
        try:
            listed = await self.nomad.jobs(jobspec.job_id(""))
        except PaasTechError as exc:
            log.warning("sweep: jobs unreadable (%s); reconciling every project", exc.message)
            jobs = None
        else:
            jobs = {str(j["ID"]): (j.get("JobModifyIndex"), bool(j.get("Stop"))) for j in listed}
        swept: dict[UUID, tuple[Any, ...]] = {}
        for row in rows:
            key = (row["fingerprint"], (jobs or {}).get(jobspec.job_id(row["name"])))
            if jobs is not None and not row["moving"] and self._swept.get(row["id"]) == key:
                swept[row["id"]] = key
                continue
            if await self._reconcile(row["id"]) and jobs is not None:
                swept[row["id"]] = key
        self._swept = swept
        await self.outbox()

    async def _reconcile(self, project_id: UUID) -> bool:
        """One project's reconcile; False when it did not go through (the sweep retries)."""
        try:
            return await self.reconciler.reconcile(project_id)
        except PaasTechError as exc:
            log.warning("reconcile of %s failed: %s (the sweep retries)", project_id, exc.message)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            raise  # the lock's connection or the pool: the loop starts over
        except Exception:
            # The edge of one project's reconcile: a bug there must not stop every other one.
            log.exception("reconcile of %s crashed (the sweep retries)", project_id)
        return False

    async def outbox(self) -> None:
        """Remove what deleted projects left in Nomad and the registry."""

        async def remove(row: dict[str, Any]) -> None:
            await self.nomad.deregister_job(jobspec.job_id(row["project_name"]), purge=True)
            await self.registry.delete_repository(row["project_name"])

        await releases.carry_out(releases.REMOVE_APP, remove)


async def serve_feed(settings: Settings, table: Callable[[], Awaitable[list[RouteDef]]]) -> None:
    """Fabio's route feed on ``fabio.route_feed_host:route_feed_port`` until cancelled."""
    app = create_feed_app(settings.fabio, table)
    await _serve(app, settings.fabio.route_feed_host, settings.fabio.route_feed_port)


async def serve_activator(settings: Settings, app: Activator) -> None:
    """The activator on ``scheduler.activator_host:activator_port`` until cancelled."""
    await _serve(app, settings.scheduler.activator_host, settings.scheduler.activator_port)


async def _serve(app: Any, host: str, port: int) -> None:
    # uvicorn's listen backlog (2048) holds a burst of cold requests to the activator.
    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", access_log=False, lifespan="off"
    )
    await uvicorn.Server(config).serve()


async def main(settings: Settings) -> None:
    """The scheduler process: the feed, the route source, the control loop, the activator
    and the idler."""
    nomad = NomadApi(settings.nomad)
    scheduler = settings.scheduler
    async with db.connected(settings.db):
        gate = ScaleGate()
        sleepers = Sleepers(scheduler.activator_host, scheduler.activator_port)
        source = RouteSource(settings, nomad, route_override=sleepers.route)
        loop = ControlLoop(settings, nomad, source.refresh, gate)
        waker = Waker(nomad, gate, scheduler.hold_seconds, source.refresh)
        activator = Activator(sleepers, waker, settings.apps.domain, scheduler.hold_seconds)
        idler = Idler(
            nomad,
            sleepers,
            gate,
            source.refresh,
            interval=scheduler.idle_check_seconds,
            route_delay=seconds(settings.fabio.poll_interval) + 0.5,
            leading=loop.leading,
        )
        async with asyncio.TaskGroup() as group:
            group.create_task(serve_feed(settings, source.table))
            group.create_task(source.run())
            group.create_task(loop.run())
            group.create_task(serve_activator(settings, activator))
            group.create_task(idler.run())


def run(settings: Settings) -> None:
    """Serve the route feed and lead the control loop until interrupted.

    Raises:
        InvalidSettings: No ``fabio.route_feed_secret``: the feed never runs unguarded.
    """
    if not settings.fabio.route_feed_secret:
        raise InvalidSettings(
            "fabio.route_feed_secret (or route_feed_secret_file) is required: the route feed "
            "is reachable from apps on the same host and must not answer without it"
        )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(settings))
