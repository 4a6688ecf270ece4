"""A project's cold starts: one row per wake, with the time each phase took."""

from __future__ import annotations

from litestar import Router, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from paastech.db.tables import ColdStart
from paastech.gateway.access import owned_project
from paastech.gateway.auth import Caller
from paastech.gateway.errors import responses
from paastech.gateway.schemas import ColdStartOut

LIMIT = 50


@get(
    "/{name:str}/cold-starts",
    responses=responses(401, 404),
    summary="The project's latest wakes and their breakdown (newest first)",
)
async def list_cold_starts(
    name: FromPath[str], caller: NamedDependency[Caller]
) -> list[ColdStartOut]:
    project = await owned_project(caller, name)
    rows = (
        await ColdStart.select()
        .where(ColdStart.project == project["id"])
        .order_by(ColdStart.created_at, ascending=False)
        .limit(LIMIT)
        .run()
    )
    return [
        ColdStartOut(
            created_at=row["created_at"],
            release=row["release_version"],
            requests=row["requests"],
            placed_ms=row["placed_ms"],
            image_ready_ms=row["image_ready_ms"],
            started_ms=row["started_ms"],
            first_answer_ms=row["first_answer_ms"],
            total_ms=row["total_ms"],
        )
        for row in rows
    ]


router = Router(path="/projects", route_handlers=[list_cold_starts], tags=["functions"])
