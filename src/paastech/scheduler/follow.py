"""Follow one release's Nomad deployment to its end and write each step as a release event.

One follower per deploying release, started and stopped by the scheduler's supervisor (the
shape of Nomad's own ``deploymentwatcher``). It waits with blocking queries on the job's
latest deployment (no busy polling), writes ``deploying (h/n healthy)`` as the count moves,
then ``live`` — or ``failed`` with the reason and the app's last log lines (see
:mod:`paastech.scheduler.diagnose`) while Nomad's ``auto_revert`` keeps the previous release.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from paastech import releases
from paastech.db.tables import Project, Release
from paastech.scheduler import jobspec
from paastech.scheduler.diagnose import failure
from paastech.scheduler.nomad import NomadApi

log = logging.getLogger("paastech.scheduler.follow")

GROUP = "web"
DRAIN_SECONDS = 15.0


async def mark_live(project: dict[str, Any], version: int, message: str) -> None:
    """The release is live: the older live one is superseded, the project points at it."""
    async with Project._meta.db.transaction():
        await (
            Release.update({Release.status: releases.SUPERSEDED})
            .where(
                (Release.project == project["id"])
                & (Release.status == releases.LIVE)
                & (Release.version != version)
            )
            .run()
        )
        await releases.record_event(project["id"], version, releases.LIVE, message, reason="")
        await (
            Project.update({Project.current_release: version, Project.status: "running"})
            .where(Project.id == project["id"])
            .run()
        )


class DeploymentFollower:
    """Follows the deployment of one registered job version until it ends."""

    def __init__(
        self,
        nomad: NomadApi,
        project: dict[str, Any],
        release: dict[str, Any],
        route_delay: float = 1.5,
        refresh_routes: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        """``route_delay``: how long the router takes to see a new table (its poll interval
        and a margin); ``refresh_routes`` rebuilds the route table now. A release is live
        for the pusher only once the router sees it alone."""
        self.nomad = nomad
        self.project = project
        self.release = release
        self.route_delay = route_delay
        self.refresh_routes = refresh_routes
        self.job_id = jobspec.job_id(project["name"])

    async def run(self) -> None:
        """Write events until the release is live, failed or superseded."""
        version = int(self.release["nomad_job_version"])
        number = int(self.release["version"])
        deployment = await self._find(version)
        if deployment is None:
            await self._superseded(number)
            return
        index = 0
        said = f"deploying v{number} (0/{self.project['instances']} healthy)"
        while True:
            deployment, index = await self.nomad.deployment(deployment["ID"], index)
            group = (deployment.get("TaskGroups") or {}).get(GROUP) or {}
            healthy, desired = int(group.get("HealthyAllocs", 0)), int(group.get("DesiredTotal", 0))
            status = deployment.get("Status", "")
            if status == "successful":
                await self._drained(version)
                await mark_live(
                    self.project, number, f"v{number} is live ({healthy}/{desired} healthy)"
                )
                return
            if status == "cancelled":
                await self._superseded(number)
                return
            if status == "failed":
                reason, lines = await failure(
                    self.nomad, self.job_id, deployment, self._check_name()
                )
                detail = "\n".join([reason, *lines])
                await releases.record_event(
                    self.project["id"], number, releases.FAILED, detail, reason=reason
                )
                return
            message = f"deploying v{number} ({healthy}/{desired} healthy)"
            if message != said:
                said = message
                await releases.record_event(self.project["id"], number, releases.DEPLOYING, message)

    def _check_name(self) -> str:
        config = self.release.get("config")
        plan = (config.get("plan") if isinstance(config, dict) else None) or {}
        return f"GET {plan.get('health_path') or '/'}"

    async def _find(self, version: int) -> dict[str, Any] | None:
        """The deployment of job version ``version``, waiting until Nomad has made it; None
        when the job moved past that version without one (a newer release replaced it)."""
        index = 0
        while True:
            latest, index = await self.nomad.latest_deployment(self.job_id, index)
            if latest is None or int(latest["JobVersion"]) < version:
                continue
            if int(latest["JobVersion"]) == version:
                return latest
            # Already past it (an auto-revert follows a failure at once): look it up.
            for deployment in await self.nomad.job_deployments(self.job_id):
                if int(deployment["JobVersion"]) == version:
                    return deployment
            return None

    async def _drained(self, version: int) -> None:
        """Wait until only this version's instances are registered, then for the router.

        The old instances leave the registry first and keep serving for the job's shutdown
        delay; once Fabio has polled a table without them, every request reaches the new
        release — which is what "live" promises the pusher.
        """
        deadline = time.monotonic() + DRAIN_SECONDS
        index = 0
        while time.monotonic() < deadline:
            allocs, _ = await self.nomad.job_allocations(self.job_id)
            current = {
                a["ID"]
                for a in allocs
                if int(a.get("JobVersion", -1)) == version and a.get("ClientStatus") == "running"
            }
            registrations, index = await self.nomad.watch_service(self.job_id, index)
            if {r["AllocID"] for r in registrations} <= current:
                break
        if self.refresh_routes is not None:
            await self.refresh_routes()
        await asyncio.sleep(self.route_delay)

    async def _superseded(self, number: int) -> None:
        await releases.record_event(
            self.project["id"],
            number,
            releases.FAILED,
            "replaced by a newer release before it went live",
            reason="replaced by a newer release before it went live",
        )
