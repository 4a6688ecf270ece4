"""Running instances and runtime logs: straight from the scheduler (503 when it is away)."""

from __future__ import annotations

import asyncio
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

#: How long the route waits for the first line before it sends the headers anyway: longer
#: than the adapter's retries of a refused connection (about 1.2 s), so a Nomad that is down
#: is reported as such.
_FIRST_LINE_WAIT = 2.0


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
    # The first read from the scheduler happens before the status line is sent, so a Nomad
    # that cannot be reached is a 503 rather than a 200 whose body breaks off. A followed
    # stream with nothing to show yet goes on waiting for that first line after the headers.
    first: asyncio.Future[LogLine] = asyncio.ensure_future(anext(source))
    await asyncio.wait({first}, timeout=_FIRST_LINE_WAIT)
    if first.done() and not first.cancelled():
        error = first.exception()
        if isinstance(error, StopAsyncIteration):
            return Stream(iter(()), media_type="application/x-ndjson")
        if error is not None:
            raise error

    async def ndjson() -> AsyncIterator[bytes]:
        encoder = msgspec.json.Encoder()
        try:
            item: LogLine = await first
            while True:
                out = _LogOut(item.ts.isoformat(), item.instance, item.stream, item.line)
                yield encoder.encode(out) + b"\n"
                item = await anext(source)
        except StopAsyncIteration:
            return
        finally:  # the client left or the stream ended: stop following Nomad at once
            first.cancel()
            aclose = getattr(source, "aclose", None)
            if aclose is not None:
                await aclose()

    return Stream(ndjson(), media_type="application/x-ndjson")


router = Router(path="/projects", route_handlers=[list_instances, runtime_logs], tags=["runtime"])
