"""Releases and rollback (a rollback is a new release running an old one's image + config)."""

from __future__ import annotations

from typing import Any

from litestar import Router, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_201_CREATED
from piccolo.columns import Column

from paastech import releases
from paastech.db.tables import Release
from paastech.errors import NotFound
from paastech.gateway.access import owned_project
from paastech.gateway.audit import record
from paastech.gateway.auth import Caller
from paastech.gateway.errors import responses
from paastech.gateway.schemas import ReleaseOut, RollbackBody
from paastech.gateway.tx import transaction
from paastech.services import Services

_COLUMNS = (
    Release.version,
    Release.status,
    Release.reason,
    Release.description,
    Release.image,
    Release.digest,
    Release.build,
    Release.created_at,
)
_CARRIED = (Release.image, Release.digest, Release.build, Release.config)  # by a rollback


async def _release_row(project_id: object, version: int, *columns: Column) -> dict[str, Any]:
    """``columns`` of the project's release ``version`` (JSON decoded); NotFound without one."""
    row = (
        await Release.select(*columns)
        .output(load_json=True)
        .where((Release.project == project_id) & (Release.version == version))
        .first()
        .run()
    )
    if row is None:
        raise NotFound(f"no release v{version}")
    return row


async def _release(project_id: object, version: int) -> ReleaseOut:
    return ReleaseOut(**await _release_row(project_id, version, *_COLUMNS))


@get("/{name:str}/releases", responses=responses(401, 404), summary="The project's releases")
async def list_releases(name: FromPath[str], caller: NamedDependency[Caller]) -> list[ReleaseOut]:
    project = await owned_project(caller, name)
    rows = (
        await Release.select(*_COLUMNS)
        .where(Release.project == project["id"])
        .order_by(Release.version, ascending=False)
        .run()
    )
    return [ReleaseOut(**row) for row in rows]


@post(
    "/{name:str}/rollback",
    status_code=HTTP_201_CREATED,
    responses=responses(400, 401, 404, 413, 422, 503),
    summary="Run vN's image and config again, as a new release",
)
async def rollback(
    name: FromPath[str],
    data: JSONBody[RollbackBody],
    caller: NamedDependency[Caller],
    services: NamedDependency[Services],
) -> ReleaseOut:
    async with transaction():
        project = await owned_project(caller, name, lock=True)
        old = await _release_row(project["id"], data.version, *_CARRIED)
        version = await releases.create_release(
            project, old, f"rollback to v{data.version}", config=old["config"]
        )
        await record(caller, "release.rollback", name, {"to": data.version, "release": version})
    return await _release(project["id"], version)


router = Router(path="/projects", route_handlers=[list_releases, rollback], tags=["releases"])
