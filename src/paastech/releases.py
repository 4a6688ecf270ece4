"""The release workflow: the one place a Release is made, and where intent is handed on.

A Release is an immutable pair (image digest, config snapshot) numbered v1, v2 … per
project. The forge makes one after a successful build; the gateway after an env change, a
settings change or a rollback. Each is written with its first event and (by the caller) its
audit row in ONE transaction, and a ``NOTIFY`` on :data:`RECONCILE_CHANNEL` that PostgreSQL
delivers at commit. Nothing here talks to Nomad: the scheduler process reconciles the
project towards its newest release and writes each transition back (:func:`record_event`),
with a ``NOTIFY`` on :data:`EVENTS_CHANNEL` the push terminal and the clients follow.

Statuses of a release: ``pending`` → ``deploying`` → ``live`` | ``failed`` (with a reason);
a live release that a newer one replaced becomes ``superseded``.

Deleting a project writes its side effects as :class:`~paastech.db.tables.Outbox` rows in the
delete's transaction (:func:`enqueue_removal`): the scheduler removes the job and images,
the forge the repository, both after the commit and with retries.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID, uuid4

from paastech.db.tables import (
    AuditEvent,
    Build,
    Client,
    EnvVar,
    Outbox,
    Project,
    Release,
    ReleaseEvent,
)
from paastech.errors import NotFound, PaasTechError

RECONCILE_CHANNEL = "paastech_reconcile"
"""Payload: a project id. Means "look at this project again"; never carries state."""
EVENTS_CHANNEL = "paastech_release_events"
"""Payload: ``<project id>:<version>``: a new event row exists for that release."""
OUTBOX_CHANNEL = "paastech_outbox"
"""Payload: an outbox kind; the consumer of that kind looks again."""

PENDING, DEPLOYING, LIVE, FAILED, SUPERSEDED = (
    "pending",
    "deploying",
    "live",
    "failed",
    "superseded",
)
FINAL = frozenset({LIVE, FAILED, SUPERSEDED})
REMOVE_APP = "remove_app"
"""Outbox kind for the scheduler: the job, its routes and the registry's tags."""
REMOVE_REPO = "remove_repo"
"""Outbox kind for the forge: the bare repository."""


def now() -> dt.datetime:
    """The current time in UTC (what rows are stamped with)."""
    return dt.datetime.now(dt.UTC)


async def notify(channel: str, payload: str) -> None:
    """``pg_notify`` on the current transaction's connection (delivered at commit)."""
    await Release.raw("SELECT pg_notify({}, {})", channel, payload).run()


async def latest_base(project_id: UUID) -> dict[str, Any] | None:
    """What a new release would run: the latest release's image, else the latest good build."""
    release = (
        await Release.select(Release.image, Release.digest, Release.build, Release.config)
        .output(load_json=True)
        .where(Release.project == project_id)
        .order_by(Release.version, ascending=False)
        .first()
        .run()
    )
    if release is not None:
        return {
            "image": release["image"],
            "digest": release["digest"],
            "build": release["build"],
            "plan": (release["config"] or {}).get("plan", {}),
        }
    build = (
        await Build.select(Build.id, Build.image, Build.digest, Build.plan)
        .output(load_json=True)
        .where((Build.project == project_id) & (Build.status == "succeeded"))
        .order_by(Build.number, ascending=False)
        .first()
        .run()
    )
    if build is not None:
        return {
            "image": build["image"],
            "digest": build["digest"],
            "build": build["id"],
            "plan": build["plan"] or {},
        }
    return None


async def config_snapshot(project: dict[str, Any], plan: dict[str, Any]) -> dict[str, Any]:
    """The project's runtime config now; env values stay encrypted (the scheduler decrypts)."""
    env = (
        await EnvVar.select(EnvVar.key, EnvVar.value_encrypted)
        .where(EnvVar.project == project["id"])
        .order_by(EnvVar.key)
        .run()
    )
    return {
        "kind": project["kind"],
        "cpu": project["cpu"],
        "memory": project["memory"],
        "idle_timeout": project["idle_timeout"],
        "scale_to_zero": project["scale_to_zero"],
        "env_encrypted": {row["key"]: row["value_encrypted"] for row in env},
        "plan": plan,
    }


async def next_version(project_id: UUID) -> int:
    """The next release number (call with the project's row locked)."""
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
    """Write a pending release and its first event, and ask the scheduler to look.

    Call inside the transaction that holds the project's row lock and writes the audit row.

    Returns:
        The new release's version.
    """
    version = await next_version(project["id"])
    stamp = now()
    await Release.insert(
        Release(
            id=uuid4(),
            project=project["id"],
            version=version,
            build=base["build"],
            image=base["image"],
            digest=base["digest"],
            config=config
            if config is not None
            else await config_snapshot(project, base.get("plan") or {}),
            description=description,
            status=PENDING,
            created_at=stamp,
        )
    ).run()
    await ReleaseEvent.insert(
        ReleaseEvent(
            project=project["id"],
            version=version,
            status=PENDING,
            message=description,
            created_at=stamp,
        )
    ).run()
    # A new release deploys with the project's instances: a sleeping project wakes for it
    # (the idler puts it back to sleep after its idle timeout).
    await (
        Project.update({Project.asleep: False, Project.asleep_since: None})
        .where(Project.id == project["id"])
        .run()
    )
    await notify(EVENTS_CHANNEL, f"{project['id']}:{version}")
    await notify(RECONCILE_CHANNEL, str(project["id"]))
    return version


async def new_release(
    project: dict[str, Any], description: str, config: dict[str, Any] | None = None
) -> int | None:
    """A release of the project's current image with its current config (env or settings
    change); None when nothing was ever built, so there is nothing to run yet."""
    base = await latest_base(project["id"])
    if base is None:
        return None
    return await create_release(project, base, description, config)


async def request_reconcile(project_id: UUID) -> None:
    """Ask the scheduler to look at the project again (the desired count changed …)."""
    await notify(RECONCILE_CHANNEL, str(project_id))


async def record_event(
    project_id: UUID,
    version: int,
    status: str,
    message: str = "",
    *,
    reason: str | None = None,
) -> None:
    """Write one transition of a release: its status (and reason), an event row, a NOTIFY.

    Used by the scheduler; the push terminal, the CLI and the dashboard show these rows.
    """
    values: dict[Any, Any] = {Release.status: status}
    if reason is not None:
        values[Release.reason] = reason
    await (
        Release.update(values)
        .where((Release.project == project_id) & (Release.version == version))
        .run()
    )
    await ReleaseEvent.insert(
        ReleaseEvent(
            project=project_id,
            version=version,
            status=status,
            message=message,
            created_at=now(),
        )
    ).run()
    await notify(EVENTS_CHANNEL, f"{project_id}:{version}")


async def events_after(project_id: UUID, version: int, after_id: int) -> list[dict[str, Any]]:
    """The release's events with an id above ``after_id``, oldest first."""
    rows: list[dict[str, Any]] = (
        await ReleaseEvent.select(ReleaseEvent.id, ReleaseEvent.status, ReleaseEvent.message)
        .where(
            (ReleaseEvent.project == project_id)
            & (ReleaseEvent.version == version)
            & (ReleaseEvent.id > after_id)
        )
        .order_by(ReleaseEvent.id)
        .run()
    )
    return rows


async def enqueue_removal(project_id: UUID, name: str) -> None:
    """Outbox rows for everything a deleted project leaves outside the database.

    Call in the delete's transaction: the rows commit with it, or not at all.
    """
    stamp = now()
    for kind in (REMOVE_APP, REMOVE_REPO):
        await Outbox.insert(
            Outbox(kind=kind, project_id=project_id, project_name=name, created_at=stamp)
        ).run()
        await notify(OUTBOX_CHANNEL, kind)


async def release_from_build(
    project_id: UUID, build_id: UUID, client_id: UUID, client_ip: str = ""
) -> int:
    """The release that deploys a successful build, with its audit row, in one transaction.

    Used by the forge once the image is in the registry; the pusher is the audit's actor.

    Returns:
        The new release's version.
    """
    async with Project._meta.db.transaction():
        rows = await Project.raw(
            "SELECT * FROM projects WHERE id = {} FOR UPDATE", project_id
        ).run()
        project = rows[0]
        build = (
            await Build.select(
                Build.id, Build.number, Build.image, Build.digest, Build.plan, Build.commit_sha
            )
            .output(load_json=True)
            .where(Build.id == build_id)
            .first()
            .run()
        )
        if build is None:
            raise NotFound(f"no build {build_id}")
        base = {
            "image": build["image"],
            "digest": build["digest"],
            "build": build["id"],
            "plan": build["plan"] or {},
        }
        description = f"deploy {build['commit_sha'][:7]} (build #{build['number']})"
        version = await create_release(project, base, description)
        actor = await Client.select(Client.email).where(Client.id == client_id).first().run()
        await AuditEvent.insert(
            AuditEvent(
                client=client_id,
                actor=actor["email"] if actor else "",
                action="release.create",
                target=project["name"],
                ip=client_ip,
                detail={"release": version, "build": build["number"]},
                created_at=now(),
            )
        ).run()
    return version


async def carry_out(kind: str, action: Callable[[dict[str, Any]], Awaitable[None]]) -> int:
    """Run ``action`` on every pending outbox row of ``kind``, oldest first; how many were
    done. A row whose action fails keeps its place, with the attempt and the reason recorded
    (the next pass retries it)."""
    rows = (
        await Outbox.select()
        .where((Outbox.kind == kind) & Outbox.done_at.is_null())
        .order_by(Outbox.id)
        .run()
    )
    done = 0
    for row in rows:
        try:
            await action(row)
        except PaasTechError as exc:
            await (
                Outbox.update(
                    {Outbox.attempts: Outbox.attempts + 1, Outbox.last_error: exc.message[:500]}
                )
                .where(Outbox.id == row["id"])
                .run()
            )
            continue
        await Outbox.update({Outbox.done_at: now()}).where(Outbox.id == row["id"]).run()
        done += 1
    return done
