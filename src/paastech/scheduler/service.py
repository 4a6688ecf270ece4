"""The scheduler process: Fabio's route feed, and (with Nomad) deploys and reconcile.

Nomad v1.6.5 cannot be provisioned on the current build machines (see README, Status), so
this process serves the route feed over an empty instance set: no instance runs, so no
route exists, which is the truth Fabio should see. The Nomad-backed source plugs in through
:data:`paastech.scheduler.routes.RouteTable`.
"""

from __future__ import annotations

import logging

import uvicorn

from paastech.errors import InvalidSettings
from paastech.scheduler.feed import create_feed_app
from paastech.scheduler.routes import RouteDef
from paastech.settings import Settings

log = logging.getLogger("paastech.scheduler")


async def no_instances() -> list[RouteDef]:
    """The route table while no orchestrator is connected: nothing runs, nothing routes."""
    return []


def run(settings: Settings) -> None:
    """Serve the route feed until interrupted.

    Raises:
        InvalidSettings: No ``fabio.route_feed_secret``: the feed never runs unguarded.
    """
    if not settings.fabio.route_feed_secret:
        raise InvalidSettings(
            "fabio.route_feed_secret (or route_feed_secret_file) is required: the route feed "
            "is reachable from apps on the same host and must not answer without it"
        )
    log.warning("no orchestrator connected (Nomad unavailable): the route table is empty")
    app = create_feed_app(settings.fabio, no_instances)
    uvicorn.run(
        app,
        host=settings.fabio.route_feed_host,
        port=settings.fabio.route_feed_port,
        log_level="warning",
        access_log=False,
    )
