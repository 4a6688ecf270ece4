"""Reconcile one project: read what PostgreSQL wants and what Nomad runs, do the next step.

Level-triggered and idempotent (controller-runtime's ``Reconcile`` is the model): safe to
call at any time, for any project, as often as a NOTIFY or the periodic sweep asks.

- The **wanted release** is the newest one that has not failed (``pending``, ``deploying``
  or ``live``): a release that fails leaves the previous one wanted, which is what Nomad's
  ``auto_revert`` brings back.
- ``pending`` → the job is registered (docker by digest, the release's config) and the
  release becomes ``deploying``; a :class:`~paastech.scheduler.follow.DeploymentFollower`
  then follows Nomad's deployment and writes ``live`` or ``failed``.
- ``live`` but Nomad has no such job (a restarted ``-dev`` agent, a purge by hand) → the job
  is registered again, the release stays what it is.
- The desired instance count (0 while the project sleeps, see
  :mod:`~paastech.scheduler.scaling`) is applied through the scale API when it differs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from paastech import releases
from paastech.crypto import EnvCipher
from paastech.db.tables import Domain, Project, Release
from paastech.errors import InvalidInput
from paastech.scheduler import jobspec
from paastech.scheduler.nomad import NomadApi
from paastech.scheduler.scaling import GROUP, ScaleGate, desired_count, group_count
from paastech.settings import Settings

log = logging.getLogger("paastech.scheduler.reconcile")


@dataclass(frozen=True)
class Wanted:
    """A project's desired state as PostgreSQL holds it."""

    project: dict[str, Any]
    release: dict[str, Any] | None


async def wanted(project_id: UUID) -> Wanted | None:
    """The project and its wanted release; None when the project does not exist (any more)."""
    project = await Project.select().where(Project.id == project_id).first().run()
    if project is None:
        return None
    release = (
        await Release.select()
        .output(load_json=True)
        .where(
            (Release.project == project_id)
            & Release.status.is_in([releases.PENDING, releases.DEPLOYING, releases.LIVE])
        )
        .order_by(Release.version, ascending=False)
        .first()
        .run()
    )
    return Wanted(project, release)


def repository(image: str) -> str:
    """``127.0.0.1:5000/app:tag`` → ``127.0.0.1:5000/app`` (releases run by digest)."""
    head, _, last = image.rpartition("/")
    name = last.split(":", 1)[0]
    return f"{head}/{name}" if head else name


class Reconciler:
    """The one writer of app jobs: turns a project's wanted state into Nomad calls."""

    def __init__(
        self,
        settings: Settings,
        nomad: NomadApi,
        cipher: EnvCipher,
        follow: Callable[[dict[str, Any], dict[str, Any]], None],
        gate: ScaleGate | None = None,
    ) -> None:
        """``follow(project, release)`` starts (at most one) follower of a deploying release."""
        self.gate = gate if gate is not None else ScaleGate()
        self.settings = settings
        self.nomad = nomad
        self.cipher = cipher
        self._follow = follow

    async def spec(self, project: dict[str, Any], release: dict[str, Any]) -> dict[str, Any]:
        """The Nomad job (API JSON) that runs ``release`` of ``project``."""
        config = release["config"] or {}
        plan = config.get("plan") or {}
        env = {
            key: self.cipher.decrypt(value)
            for key, value in (config.get("env_encrypted") or {}).items()
        }
        # Only domains whose owner proved control (a DNS challenge) are the app's.
        domains = await Domain.raw(
            "SELECT hostname FROM routable_domains WHERE project = {}", project["id"]
        ).run()
        spec = jobspec.ReleaseSpec(
            project=project["name"],
            kind="function" if config.get("kind", project["kind"]) == "function" else "container",
            version=release["version"],
            image=repository(release["image"]),
            digest=release["digest"],
            env=env,
            instances=desired_count(project),
            scale_to_zero=bool(config.get("scale_to_zero", project["scale_to_zero"])),
            max_instances=self.settings.apps.max_instances,
            cpu=int(config.get("cpu", project["cpu"])),
            memory=int(config.get("memory", project["memory"])),
            health_path=plan.get("health_path") or "/",
            domains=tuple(sorted(row["hostname"] for row in domains)),
            apps_domain=self.settings.apps.domain,
            profile="production" if self.settings.apps.profile == "production" else "dev",
            namespace=self.settings.nomad.namespace,
            region=self.settings.nomad.region,
            datacenters=(self.settings.nomad.datacenter,),
        )
        job: dict[str, Any] = jobspec.to_api(spec)["Job"]  # type: ignore[assignment]
        return job

    async def reconcile(self, project_id: UUID) -> bool:
        """Do the next step towards the project's wanted state (idempotent).

        Returns:
            False when Nomad refused the step for now (a scale during a deployment): a later
            pass must try again whatever else has changed; True otherwise.
        """
        state = await wanted(project_id)
        if state is None:
            return True
        project, release = state.project, state.release
        job_id = jobspec.job_id(project["name"])
        job = await self.nomad.job_or_none(job_id)
        if release is None:
            # Every release failed (the first deploy crashed): nothing to run, stop retrying.
            if job is not None and not job.get("Stop"):
                await self.nomad.deregister_job(job_id, purge=False)
            return True
        if release["status"] == releases.PENDING:
            await self._deploy(project, release)
            return True
        if release["status"] == releases.DEPLOYING:
            if job is None or _job_release(job) != release["version"]:
                # Registered nowhere (Nomad lost it, or we died before the call): again.
                await self._deploy(project, release)
            else:
                self._follow(project, release)
            return True
        # Live: the job must exist and run this release at the wanted count.
        if job is None or job.get("Stop") or _job_release(job) != release["version"]:
            await self.nomad.register_job(await self.spec(project, release))
            await releases.record_event(
                project_id,
                release["version"],
                releases.LIVE,
                "Nomad had no job running this release; registered it again",
            )
            return True
        return await self._scale(project, job)

    async def _deploy(self, project: dict[str, Any], release: dict[str, Any]) -> None:
        job = await self.spec(project, release)
        await self.nomad.register_job(job)
        registered = await self.nomad.job(job["ID"])
        count = project["instances"]
        await (
            Release.update({Release.nomad_job_version: int(registered["Version"])})
            .where(Release.id == release["id"])
            .run()
        )
        await releases.record_event(
            project["id"],
            release["version"],
            releases.DEPLOYING,
            f"deploying v{release['version']} (0/{count} healthy)",
        )
        release = {
            **release,
            "status": releases.DEPLOYING,
            "nomad_job_version": registered["Version"],
        }
        self._follow(project, release)

    async def _scale(self, project: dict[str, Any], job: dict[str, Any]) -> bool:
        """Bring the group to the project's count; False when Nomad refused it for now."""
        if group_count(job) == desired_count(project):
            return True
        async with self.gate.lock(project["id"]):
            # Read both again under the lock: a wake or a sleep may just have changed them.
            fresh = await Project.select().where(Project.id == project["id"]).first().run()
            current = await self.nomad.job_or_none(job["ID"])
            if fresh is None or current is None:
                return True
            want = desired_count(fresh)
            if group_count(current) == want:
                return True
            try:
                await self.nomad.scale(job["ID"], GROUP, want, f"scale to {want}")
            except InvalidInput as exc:
                # Nomad refuses a scale while a deployment runs; the next sweep tries again.
                log.info("scale of %s deferred: %s", fresh["name"], exc.message)
                return False
            return True


def _job_release(job: dict[str, Any]) -> int | None:
    meta = job.get("Meta") or {}
    try:
        return int(meta.get("paastech.release", ""))
    except ValueError:
        return None
