"""Helpers shared by the gateway integration tests (import as ``gateway_harness``)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx

from paastech.gateway.app import GatewayCore, create_app
from paastech.services import Services
from paastech.settings import Settings

PASSWORD = "correct horse battery"
PROBLEM = "application/problem+json"


@contextlib.asynccontextmanager
async def gateway(settings: Settings, services: Services) -> AsyncIterator[httpx.AsyncClient]:
    """A client talking ASGI to a fresh app in this event loop.

    httpx's ASGITransport sends no lifespan events, so the harness opens what the app's
    lifespan opens (the DB pool, the hot-read lease, the revocation listener) through the
    same ``GatewayCore.resources()``; anyio's cancel scopes in ``app.lifespan()`` cannot
    span pytest-asyncio's separate setup and teardown tasks.
    """
    async with serving(settings, services) as (client, _core):
        yield client


@contextlib.asynccontextmanager
async def serving(
    settings: Settings, services: Services, peer: str = "127.0.0.1"
) -> AsyncIterator[tuple[httpx.AsyncClient, GatewayCore]]:
    """Like :func:`gateway`, also giving the app's core (its token cache) and a chosen peer."""
    app = create_app(settings, services)
    core = app.plugins.get(GatewayCore)
    transport = httpx.ASGITransport(app=app, client=(peer, 40000))
    async with (
        core.resources(),
        httpx.AsyncClient(transport=transport, base_url="http://gw") as client,
    ):
        yield client, core


async def signup_login(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    """Create an account and return the Authorization header of a session."""
    r = await client.post("/api/v1/auth/signup", json={"email": email, "password": PASSWORD})
    assert r.status_code == 201, r.text
    r = await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}
