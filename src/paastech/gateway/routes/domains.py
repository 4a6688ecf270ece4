"""Custom hostnames of a project, unique across Clients."""

from __future__ import annotations

from litestar import Router, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from paastech.db.tables import Domain
from paastech.errors import Conflict, NotFound
from paastech.gateway.access import owned_project
from paastech.gateway.audit import record
from paastech.gateway.auth import Caller, utcnow
from paastech.gateway.errors import responses
from paastech.gateway.schemas import DomainCreate, DomainOut
from paastech.gateway.tx import conflict_on_duplicate, transaction
from paastech.gateway.validation import check_hostname
from paastech.settings import Settings

_TAKEN = "this hostname is already in use"


@get("/{name:str}/domains", responses=responses(401, 404), summary="The project's hostnames")
async def list_domains(name: FromPath[str], caller: NamedDependency[Caller]) -> list[DomainOut]:
    project = await owned_project(caller, name)
    rows = (
        await Domain.select(Domain.hostname, Domain.created_at)
        .where(Domain.project == project["id"])
        .order_by(Domain.hostname)
        .run()
    )
    return [
        DomainOut(hostname=r["hostname"], project=name, created_at=r["created_at"]) for r in rows
    ]


@post(
    "/{name:str}/domains",
    status_code=HTTP_201_CREATED,
    responses=responses(400, 401, 404, 409, 413, 422),
    summary="Add a custom hostname",
)
async def add_domain(
    name: FromPath[str],
    data: JSONBody[DomainCreate],
    caller: NamedDependency[Caller],
    settings: NamedDependency[Settings],
) -> DomainOut:
    hostname = check_hostname(data.hostname, settings.apps.domain)
    project = await owned_project(caller, name)
    if await Domain.exists().where(Domain.hostname == hostname).run():
        raise Conflict(_TAKEN)
    domain = Domain(project=project["id"], hostname=hostname, created_at=utcnow())
    async with transaction():
        with conflict_on_duplicate(_TAKEN):
            await domain.save().run()
        await record(caller, "domain.add", hostname, {"project": name})
    return DomainOut(hostname=hostname, project=name, created_at=domain.created_at)


@delete(
    "/{name:str}/domains/{hostname:str}",
    status_code=HTTP_204_NO_CONTENT,
    responses=responses(401, 404),
    summary="Remove a custom hostname",
)
async def remove_domain(
    name: FromPath[str], hostname: FromPath[str], caller: NamedDependency[Caller]
) -> None:
    project = await owned_project(caller, name)
    async with transaction():
        gone = (
            await Domain.delete()
            .where((Domain.project == project["id"]) & (Domain.hostname == hostname.lower()))
            .returning(Domain.id)
            .run()
        )
        if not gone:
            raise NotFound("no such domain on this project")
        await record(caller, "domain.remove", hostname.lower(), {"project": name})


router = Router(
    path="/projects", route_handlers=[list_domains, add_domain, remove_domain], tags=["domains"]
)
