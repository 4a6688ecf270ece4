"""The HTTP listener Fabio's custom backend polls. Loopback by default, secret-guarded."""

from __future__ import annotations

import logging

import msgspec
from litestar import Litestar, Request, Response, get
from litestar.datastructures import State

from paastech.scheduler.routes import RouteTable, authorized
from paastech.settings import FabioSettings

log = logging.getLogger("paastech.scheduler.feed")


def create_feed_app(fabio: FabioSettings, table: RouteTable) -> Litestar:
    """A tiny app answering ``GET /routes`` with the current route table."""

    @get("/routes")
    async def routes(request: Request[None, None, State]) -> Response[bytes]:
        if not authorized(fabio.route_feed_secret, request.query_params.get("secret")):
            return Response(
                b'{"error":"forbidden"}', status_code=403, media_type="application/json"
            )
        body = msgspec.json.encode(await table())
        return Response(body, media_type="application/json")

    return Litestar(route_handlers=[routes], openapi_config=None, logging_config=None)
