"""Custom hostnames of a project: claimed, proved by a DNS TXT record, then routed.

A claim holds its hostname against other Clients; it is routed (the ``routable_domains``
view the route feed reads) only once verified. A claim left unproved for
``domains.pending_hours`` can be taken over by another Client, so an unproved claim cannot
squat a name forever. Removing a domain frees the name: whoever claims it next must prove
it again, with a new token.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Router, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from paastech.db.tables import Domain
from paastech.errors import Conflict, InvalidInput, NotFound
from paastech.gateway import dnscheck
from paastech.gateway.access import owned_project
from paastech.gateway.audit import record
from paastech.gateway.auth import Caller, utcnow
from paastech.gateway.errors import responses
from paastech.gateway.schemas import DomainCreate, DomainOut
from paastech.gateway.tx import conflict_on_duplicate, fetch, transaction
from paastech.gateway.validation import check_hostname
from paastech.settings import Settings

_TAKEN = "this hostname is already in use"
_COLUMNS = (Domain.hostname, Domain.challenge, Domain.verified_at, Domain.created_at)


def _out(row: dict[str, Any], project: str) -> DomainOut:
    return DomainOut(
        hostname=row["hostname"],
        project=project,
        created_at=row["created_at"],
        verified=row["verified_at"] is not None,
        verified_at=row["verified_at"],
        challenge_record=dnscheck.challenge_name(row["hostname"]),
        challenge_value=row["challenge"],
    )


@get("/{name:str}/domains", responses=responses(401, 404), summary="The project's hostnames")
async def list_domains(name: FromPath[str], caller: NamedDependency[Caller]) -> list[DomainOut]:
    project = await owned_project(caller, name)
    rows = (
        await Domain.select(*_COLUMNS)
        .where(Domain.project == project["id"])
        .order_by(Domain.hostname)
        .run()
    )
    return [_out(r, name) for r in rows]


# A stale unproved claim of another project gives way; a verified one never does.
_RELEASE_STALE = (
    "DELETE FROM domains WHERE hostname = $1 AND verified_at IS NULL AND created_at < $2"
    " AND project <> $3"
)


@post(
    "/{name:str}/domains",
    status_code=HTTP_201_CREATED,
    responses=responses(400, 401, 404, 409, 413, 422),
    summary="Claim a custom hostname (routed once proved with a DNS TXT record)",
    description=(
        "Publish `challenge_value` as a TXT record at `challenge_record`, then call "
        "`POST .../domains/{hostname}/verify`. The platform's own hostnames are refused."
    ),
)
async def add_domain(
    name: FromPath[str],
    data: JSONBody[DomainCreate],
    caller: NamedDependency[Caller],
    settings: NamedDependency[Settings],
) -> DomainOut:
    hostname = check_hostname(data.hostname, settings.apps.domain)
    dnscheck.check_claimable(hostname, settings)
    project = await owned_project(caller, name)
    stale = utcnow() - dt.timedelta(hours=settings.domains.pending_hours)
    domain = Domain(
        project=project["id"],
        hostname=hostname,
        challenge=dnscheck.new_challenge(),
        created_at=utcnow(),
    )
    async with transaction():
        await fetch(_RELEASE_STALE, hostname, stale, project["id"])
        if await Domain.exists().where(Domain.hostname == hostname).run():
            raise Conflict(_TAKEN)
        with conflict_on_duplicate(_TAKEN):
            await domain.save().run()
        await record(caller, "domain.add", hostname, {"project": name})
    row = {
        "hostname": hostname,
        "challenge": domain.challenge,
        "verified_at": None,
        "created_at": domain.created_at,
    }
    return _out(row, name)


async def _claim(project_id: object, hostname: str) -> dict[str, Any]:
    row: dict[str, Any] | None = (
        await Domain.select(Domain.id, *_COLUMNS)
        .where((Domain.project == project_id) & (Domain.hostname == hostname.lower()))
        .first()
        .run()
    )
    if row is None:
        raise NotFound("no such domain on this project")
    return row


@post(
    "/{name:str}/domains/{hostname:str}/verify",
    status_code=HTTP_200_OK,
    responses=responses(401, 404, 422, 503),
    summary="Check the DNS TXT challenge; the domain is routed once it holds the token",
)
async def verify_domain(
    name: FromPath[str],
    hostname: FromPath[str],
    caller: NamedDependency[Caller],
    settings: NamedDependency[Settings],
) -> DomainOut:
    project = await owned_project(caller, name)
    row = await _claim(project["id"], hostname)
    if row["verified_at"] is not None:
        return _out(row, name)
    record_name = dnscheck.challenge_name(row["hostname"])
    found = await dnscheck.txt_values(record_name, settings.domains)
    if row["challenge"] not in found:
        why = "no TXT record there yet" if not found else "the TXT record does not hold the token"
        raise InvalidInput("not proved", {"hostname": f"{record_name}: {why}"})
    now = utcnow()
    async with transaction():
        await Domain.update({Domain.verified_at: now}).where(Domain.id == row["id"]).run()
        await record(caller, "domain.verify", row["hostname"], {"project": name})
    return _out({**row, "verified_at": now}, name)


@delete(
    "/{name:str}/domains/{hostname:str}",
    status_code=HTTP_204_NO_CONTENT,
    responses=responses(401, 404),
    summary="Remove a custom hostname (whoever claims it next must prove it again)",
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
    path="/projects",
    route_handlers=[list_domains, add_domain, verify_domain, remove_domain],
    tags=["domains"],
)
