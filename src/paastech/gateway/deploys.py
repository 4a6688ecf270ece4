"""New releases from config changes, and handing them to the scheduler honestly.

Order of events for a change that needs a redeploy (env, resources, rollback):

1. In ONE transaction: the change itself, its AuditEvent and a new Release (same image,
   new config snapshot, status ``pending``). The scheduler reads the release from the
   database, so it has to exist before the call — and committing first loses no data.
2. ``scheduler.deploy(project, version)``. When the scheduler is unreachable the release
   is marked ``failed`` with the reason and the caller gets a 503 that says the change is
   saved and was not deployed; the next successful deploy (push, rollback, another change)
   runs a release that already contains it.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from paastech.db.tables import Build, EnvVar, Release
from paastech.errors import BackendUnavailable
from paastech.gateway.auth import utcnow
from paastech.services import Services


async def latest_base(project_id: UUID) -> dict[str, Any] | None:
    """What a new release would run: the latest release, else the latest good build."""
    release = (
        await Release.select(Release.image, Release.digest, Release.build)
        .where(Release.project == project_id)
        .order_by(Release.version, ascending=False)
        .first()
        .run()
    )
    if release is not None:
        return {"image": release["image"], "digest": release["digest"], "build": release["build"]}
    build = (
        await Build.select(Build.id, Build.image, Build.digest)
        .where((Build.project == project_id) & (Build.status == "succeeded"))
        .order_by(Build.number, ascending=False)
        .first()
        .run()
    )
    if build is not None:
        return {"image": build["image"], "digest": build["digest"], "build": build["id"]}
    return None


async def config_snapshot(project: dict[str, Any]) -> dict[str, Any]:
    """The project's runtime config; env values stay encrypted (the scheduler decrypts)."""
    env = (
        await EnvVar.select(EnvVar.key, EnvVar.value_encrypted)
        .where(EnvVar.project == project["id"])
        .order_by(EnvVar.key)
        .run()
    )
    return {
        "kind": project["kind"],
        "instances": project["instances"],
        "cpu": project["cpu"],
        "memory": project["memory"],
        "idle_timeout": project["idle_timeout"],
        "scale_to_zero": project["scale_to_zero"],
        "env_encrypted": {row["key"]: row["value_encrypted"] for row in env},
    }


async def next_version(project_id: UUID) -> int:
    rows = await Release.raw(
        "SELECT coalesce(max(version), 0) + 1 AS v FROM releases WHERE project = {}", project_id
    ).run()
    version: int = rows[0]["v"]
    return version


async def create_release(
    project: dict[str, Any],
    base: dict[str, Any],
    description: str,
    config: dict[str, Any] | None = None,
) -> int:
    """Insert a pending release; call inside the transaction holding the project row lock."""
    version = await next_version(project["id"])
    await Release.insert(
        Release(
            project=project["id"],
            version=version,
            build=base["build"],
            image=base["image"],
            digest=base["digest"],
            config=config if config is not None else await config_snapshot(project),
            description=description,
            status="pending",
            created_at=utcnow(),
        )
    ).run()
    return version


async def deploy(services: Services, project_id: UUID, version: int, what: str) -> None:
    """Ask the scheduler to run the release; on failure mark it and raise a clear 503.

    Raises:
        BackendUnavailable: The scheduler cannot be reached; ``what`` is already saved.
    """
    try:
        await services.scheduler.deploy(project_id, version)
    except BackendUnavailable as exc:
        await (
            Release.update(
                {Release.status: "failed", Release.reason: f"not deployed: {exc.message}"}
            )
            .where((Release.project == project_id) & (Release.version == version))
            .run()
        )
        raise BackendUnavailable(
            f"{what} saved as release v{version}, but it could not be deployed: {exc.message}"
        ) from exc
