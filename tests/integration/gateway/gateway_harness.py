"""Helpers shared by the gateway integration tests (import as ``gateway_harness``)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx
from litestar.testing import AsyncTestClient

from paastech.gateway.app import create_app
from paastech.services import Services
from paastech.settings import Settings

PASSWORD = "correct horse battery"
PROBLEM = "application/problem+json"


@contextlib.asynccontextmanager
async def gateway(settings: Settings, services: Services) -> AsyncIterator[httpx.AsyncClient]:
    """A client talking ASGI to a fresh app (its lifespan connects the DB pool)."""
    async with AsyncTestClient(create_app(settings, services)) as client:
        yield client


async def signup_login(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    """Create an account and return the Authorization header of a session."""
    r = await client.post("/api/v1/auth/signup", json={"email": email, "password": PASSWORD})
    assert r.status_code == 201, r.text
    r = await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}
