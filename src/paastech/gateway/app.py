"""The gateway application: ``create_app(settings, services)`` and ``run(settings)``.

One init plugin (:class:`GatewayCore`, after litestar-fullstack's ``ApplicationCore``) wires
everything: routes, dependencies, the problem+json exception mapping, the body limit, the
OpenAPI document and the lifespan that connects the database pool.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import uvicorn
from litestar import Litestar, Request, Router
from litestar.config.app import AppConfig
from litestar.di import NamedDependency, Provide
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins import InitPluginProtocol
from litestar.static_files import create_static_files_router
from swagger_ui_bundle import swagger_ui_path

import paastech
from paastech import health as readiness_checks
from paastech.crypto import EnvCipher
from paastech.db import connected
from paastech.gateway import revocation
from paastech.gateway.auth import Caller, TokenCache, authenticate
from paastech.gateway.errors import EXCEPTION_HANDLERS
from paastech.gateway.guard import guard
from paastech.gateway.hotreads import hot_reads
from paastech.gateway.routes import (
    audit,
    auth,
    builds,
    coldstarts,
    domains,
    env,
    health,
    keys,
    projects,
    releases,
    runtime,
    tokens,
)
from paastech.services import Services
from paastech.settings import Settings

API_PREFIX = "/api/v1"
#: Where the API browser's own JS and CSS are served from (no CDN needed).
DOCS_ASSETS = "/api/docs-assets"


def _constant(value: Any) -> Provide:
    def provide() -> Any:
        return value

    return Provide(provide, use_cache=True, sync_to_thread=False)


class GatewayCore(InitPluginProtocol):
    """Wires the gateway into a Litestar app config."""

    def __init__(self, settings: Settings, services: Services) -> None:
        self.settings = settings
        self.services = services
        self.cipher = EnvCipher(settings.secrets.env_key)
        self.cache = TokenCache()

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        settings, cache = self.settings, self.cache
        gateway_settings = settings.gateway

        # `caller` depends on `settings` on purpose: Litestar resolves dependencies of one
        # graph level concurrently in an anyio task group (two task spawns per request);
        # chained, the hot path (caller + settings) resolves each one with a plain await.
        async def caller(
            request: Request[Any, Any, Any], settings: NamedDependency[Settings]
        ) -> Caller:
            return await authenticate(request, cache, settings.gateway)

        app_config.route_handlers.extend(
            [
                health.router,
                create_static_files_router(
                    path=DOCS_ASSETS,
                    directories=[swagger_ui_path],
                    include_in_schema=False,
                ),
                Router(
                    path=API_PREFIX,
                    route_handlers=[
                        auth.router,
                        tokens.router,
                        keys.router,
                        projects.router,
                        env.router,
                        builds.router,
                        releases.router,
                        coldstarts.router,
                        runtime.router,
                        domains.router,
                        audit.router,
                    ],
                    # On the router, not only the app config: Litestar 2.25 reads the app's
                    # limit from its constructor argument and ignores one set by a plugin.
                    request_max_body_size=gateway_settings.body_limit,
                ),
            ]
        )
        app_config.dependencies.update(
            {
                "settings": _constant(settings),
                "services": _constant(self.services),
                "cipher": _constant(self.cipher),
                "cache": _constant(cache),
                "readiness": _constant(readiness_checks.ReadinessCache(settings)),
                "caller": Provide(caller),
            }
        )
        app_config.exception_handlers.update(EXCEPTION_HANDLERS)
        app_config.middleware.insert(0, guard(gateway_settings.max_header_bytes))
        app_config.request_max_body_size = gateway_settings.body_limit
        app_config.lifespan.append(self._database)
        app_config.openapi_config = OpenAPIConfig(
            title="PaaSTech API",
            version=paastech.__version__,
            description="The Client API of PaaSTech. Errors are RFC 9457 problem+json.",
            path="/api",
            # Served from the gateway itself: an operator's network may reach no CDN.
            render_plugins=[
                SwaggerRenderPlugin(
                    path="/docs",
                    js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
                    css_url=f"{DOCS_ASSETS}/swagger-ui.css",
                    standalone_preset_js_url=f"{DOCS_ASSETS}/swagger-ui-standalone-preset.js",
                )
            ],
            components=Components(
                security_schemes={"bearer": SecurityScheme(type="http", scheme="bearer")}
            ),
            security=[{"bearer": []}],
        )
        return app_config

    @contextlib.asynccontextmanager
    async def resources(self) -> AsyncIterator[None]:
        """The pool, the hot-read lease and the revocation listener, for the block."""
        # A lighter pool reset than asyncpg's (see _rollback_if_open).
        db = self.settings.db
        async with (
            connected(db, reset=_rollback_if_open),
            hot_reads(db),
            revocation.listening(db, self.cache),
        ):
            yield

    @contextlib.asynccontextmanager
    async def _database(self, app: Litestar) -> AsyncIterator[None]:
        async with self.resources():
            yield


async def _rollback_if_open(conn: asyncpg.Connection) -> None:
    """Pool reset without a round trip per request.

    asyncpg's default reset sends ``pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *;
    RESET ALL`` on every release — one extra round trip per request. The gateway never
    takes advisory locks, LISTENs, SETs or leaves cursors open, so the only state worth
    clearing is a transaction left open by a cancelled request.
    """
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


def create_app(settings: Settings, services: Services | None = None) -> Litestar:
    """The gateway as an ASGI app.

    Args:
        settings: The loaded settings.
        services: The scheduler's reads (instances, logs); by default they answer 503.
    """
    return Litestar(
        plugins=[GatewayCore(settings, services or Services())],
        debug=False,
    )


def run(settings: Settings, services: Services | None = None) -> None:
    """Serve the gateway with uvicorn, one worker, on ``gateway.host:gateway.port``."""
    uvicorn.run(
        create_app(settings, services),
        host=settings.gateway.host,
        port=settings.gateway.port,
        workers=1,
        loop="uvloop",
        http="httptools",
        access_log=False,  # paths only, but a log per request costs throughput
        # The gateway decides itself whom to believe (gateway.trusted_proxies); uvicorn's
        # default would rewrite the client address from X-Forwarded-For for any loopback peer.
        proxy_headers=False,
        server_header=False,
        # Only the h11 parser enforces this; the guard middleware refuses the rest (431).
        h11_max_incomplete_event_size=settings.gateway.max_header_bytes,
        lifespan="on",
        log_level="info",
    )
