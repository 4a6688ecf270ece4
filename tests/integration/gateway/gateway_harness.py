"""Helpers shared by the gateway integration tests (import as ``gateway_harness``)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx

from paastech.db import connected
from paastech.gateway.app import create_app
from paastech.gateway.hotreads import hot_reads
from paastech.services import Services
from paastech.settings import Settings

PASSWORD = "correct horse battery"
PROBLEM = "application/problem+json"


@contextlib.asynccontextmanager
async def gateway(settings: Settings, services: Services) -> AsyncIterator[httpx.AsyncClient]:
    """A client talking ASGI to a fresh app in this event loop.

    httpx's ASGITransport sends no lifespan events, so the harness opens the DB pool and the
    hot-read lease the way the app's lifespan does; anyio's cancel scopes in
    ``app.lifespan()`` cannot span pytest-asyncio's separate setup and teardown tasks.
    """
    app = create_app(settings, services)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
    async with (
        connected(settings.db),
        hot_reads(settings.db),
        httpx.AsyncClient(transport=transport, base_url="http://gw") as client,
    ):
        yield client


async def signup_login(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    """Create an account and return the Authorization header of a session."""
    r = await client.post("/api/v1/auth/signup", json={"email": email, "password": PASSWORD})
    assert r.status_code == 201, r.text
    r = await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}
