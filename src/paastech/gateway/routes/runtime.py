"""Running instances and runtime logs: straight from the scheduler (503 when it is away)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import msgspec
from litestar import Router, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, Parameter
from litestar.response import Stream

from paastech.gateway.access import owned_project
from paastech.gateway.auth import Caller
from paastech.gateway.errors import responses
from paastech.gateway.schemas import InstanceOut
from paastech.services import LogLine, Services


class _LogOut(msgspec.Struct):
    ts: str
    instance: str
    stream: str
    line: str


@get(
    "/{name:str}/instances",
    responses=responses(401, 404, 503),
    summary="Running allocations of the project",
)
async def list_instances(
    name: FromPath[str], caller: NamedDependency[Caller], services: NamedDependency[Services]
) -> list[InstanceOut]:
    project = await owned_project(caller, name)
    found = await services.scheduler.instances(project["id"])
    return [
        InstanceOut(
            id=i.id, status=i.status, started_at=i.started_at, address=i.address, release=i.release
        )
        for i in found
    ]


@get(
    "/{name:str}/logs",
    responses=responses(401, 404, 422, 503),
    media_type="application/x-ndjson",
    summary="Runtime logs of all instances merged, one JSON object per line",
)
async def runtime_logs(
    name: FromPath[str],
    caller: NamedDependency[Caller],
    services: NamedDependency[Services],
    lines: Annotated[int, Parameter(ge=1, le=10_000)] = 100,
    follow: FromQuery[bool] = False,
) -> Stream:
    project = await owned_project(caller, name)
    source = services.scheduler.logs(project["id"], lines, follow)

    async def ndjson() -> AsyncIterator[bytes]:
        encoder = msgspec.json.Encoder()
        item: LogLine
        async for item in source:
            out = _LogOut(item.ts.isoformat(), item.instance, item.stream, item.line)
            yield encoder.encode(out) + b"\n"

    return Stream(ndjson(), media_type="application/x-ndjson")


router = Router(path="/projects", route_handlers=[list_instances, runtime_logs], tags=["runtime"])
