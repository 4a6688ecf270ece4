"""Builds and their kept logs (the forge writes them; this side only reads)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

from litestar import Response, Router, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Stream

from paastech.db.tables import Build
from paastech.errors import NotFound
from paastech.gateway.access import owned_project
from paastech.gateway.auth import Caller
from paastech.gateway.errors import responses
from paastech.gateway.schemas import BuildOut
from paastech.settings import Settings

FOLLOW_POLL_SECONDS = 0.5
_ACTIVE = {"queued", "running"}
_COLUMNS = (
    Build.id,
    Build.number,
    Build.status,
    Build.git_ref.as_alias("ref"),
    Build.commit_sha,
    Build.image,
    Build.digest,
    Build.error,
    Build.created_at,
    Build.started_at,
    Build.finished_at,
    Build.job_running_at,
    Build.plan,
)


async def _build(project_id: UUID, build_id: FromPath[UUID], *columns: Any) -> dict[str, Any]:
    row: dict[str, Any] | None = (
        await Build.select(*columns)
        .where((Build.id == build_id) & (Build.project == project_id))
        .first()
        .run()
    )
    if row is None:
        raise NotFound("no such build")
    return row


async def _queue_positions() -> dict[UUID, int]:
    """Every queued build's place in the forge's queue (the forge says the same on push)."""
    rows = await Build.raw(
        "SELECT id, row_number() OVER (ORDER BY created_at, id) AS position"
        " FROM builds WHERE status = 'queued'"
    ).run()
    return {UUID(str(r["id"])): int(r["position"]) for r in rows}


def _out(row: dict[str, Any], positions: dict[UUID, int]) -> BuildOut:
    plan = row.pop("plan")
    return BuildOut(
        **row,
        plan=json.loads(plan) if isinstance(plan, str) else plan,
        queue_position=positions.get(UUID(str(row["id"]))),
    )


@get("/{name:str}/builds", responses=responses(401, 404), summary="The project's builds")
async def list_builds(name: FromPath[str], caller: NamedDependency[Caller]) -> list[BuildOut]:
    project = await owned_project(caller, name)
    rows = (
        await Build.select(*_COLUMNS)
        .where(Build.project == project["id"])
        .order_by(Build.number, ascending=False)
        .run()
    )
    positions = await _queue_positions() if any(r["status"] == "queued" for r in rows) else {}
    return [_out(row, positions) for row in rows]


@get("/{name:str}/builds/{build_id:uuid}", responses=responses(401, 404), summary="One build")
async def show_build(
    name: FromPath[str], build_id: FromPath[UUID], caller: NamedDependency[Caller]
) -> BuildOut:
    project = await owned_project(caller, name)
    row = await _build(project["id"], build_id, *_COLUMNS)
    positions = await _queue_positions() if row["status"] == "queued" else {}
    return _out(row, positions)


async def _follow(
    project_id: UUID, build_id: FromPath[UUID], sent: int, deadline: float
) -> AsyncIterator[bytes]:
    loop = asyncio.get_running_loop()
    while loop.time() < deadline:
        await asyncio.sleep(FOLLOW_POLL_SECONDS)
        try:
            row = await _build(project_id, build_id, Build.log, Build.status)
        except NotFound:
            return  # deleted while following
        log: str = row["log"]
        if len(log) > sent:
            yield log[sent:].encode()
            sent = len(log)
        if row["status"] not in _ACTIVE:
            return


@get(
    "/{name:str}/builds/{build_id:uuid}/log",
    responses=responses(401, 404, 422),
    media_type="text/plain; charset=utf-8",
    summary="The build's kept log; follow=true streams until the build finishes",
)
async def build_log(
    name: FromPath[str],
    build_id: FromPath[UUID],
    caller: NamedDependency[Caller],
    settings: NamedDependency[Settings],
    follow: FromQuery[bool] = False,
) -> Response[bytes] | Stream:
    project = await owned_project(caller, name)
    row = await _build(project["id"], build_id, Build.log, Build.status)
    log: str = row["log"]
    if not follow or row["status"] not in _ACTIVE:
        return Response(log.encode(), media_type="text/plain; charset=utf-8")
    deadline = asyncio.get_running_loop().time() + settings.build.timeout_seconds + 60

    async def stream() -> AsyncIterator[bytes]:
        yield log.encode()
        async for chunk in _follow(project["id"], build_id, len(log), deadline):
            yield chunk

    return Stream(stream(), media_type="text/plain; charset=utf-8")


router = Router(
    path="/projects", route_handlers=[list_builds, show_build, build_log], tags=["builds"]
)
