"""Hostile input on the real database: never a 500, bounded work, capped headers (#15)."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx
import pytest
from dbrows import project_id, sql
from gateway_harness import PROBLEM
from litestar import Litestar, get

from paastech.gateway.errors import EXCEPTION_HANDLERS
from paastech.settings import Settings

V1 = "/api/v1"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG1mG9QhN2tqQ5p4r0cA8kq3zv0cH2Yd7aY6yF1bYp0F"


@pytest.fixture
async def web(api: httpx.AsyncClient, alice: dict[str, str]) -> str:
    r = await api.post(f"{V1}/projects", json={"name": "web"}, headers=alice)
    assert r.status_code == 201, r.text
    return "web"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/projects/we%00b"),
        ("GET", "/projects/we%00b/env"),
        ("PATCH", "/projects/we%00b/env"),
        ("DELETE", "/projects/web/domains/a%00b.example.com"),
        ("GET", "/projects/" + "w" * 60_000),
    ],
)
async def test_control_characters_in_paths_are_404(
    api: httpx.AsyncClient, alice: dict[str, str], web: str, method: str, path: str
) -> None:
    """A path segment that no project or domain can have (NUL, 60,000 chars) is a 404 problem."""
    r = await api.request(method, f"{V1}{path}", headers=alice, json={})
    assert r.status_code == 404, r.text
    assert r.headers["content-type"].startswith(PROBLEM)


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/tokens", {"name": "ci\u0000"}, "name"),
        ("/tokens", {"name": "ci\u202ebad"}, "name"),
        ("/keys", {"name": "lap\u0000top", "public_key": KEY}, "name"),
        ("/auth/login", {"email": "a\u0000@example.com", "password": "x"}, "email"),
        ("/auth/signup", {"email": "a\u0000@example.com", "password": "x" * 12}, "email"),
    ],
)
async def test_control_characters_in_names_are_422(
    api: httpx.AsyncClient, alice: dict[str, str], path: str, body: dict, field: str
) -> None:
    """NUL and direction overrides in names and emails are refused naming the field."""
    r = await api.post(f"{V1}{path}", json=body, headers=alice)
    assert r.status_code == 422, r.text
    assert field in r.json()["errors"] or "body" in r.json()["errors"]


@pytest.mark.parametrize("path", ["/auth/signup", "/auth/login"])
async def test_email_that_grows_when_lowercased_is_422(
    api: httpx.AsyncClient, settings: Settings, path: str
) -> None:
    """An email within 254 characters that lowercasing ('İ' -> 'i̇') pushes over is a 422."""
    email = "\u0130" * 60 + "@" + "x" * 180 + ".com"
    assert len(email) <= 254 < len(email.lower())
    r = await api.post(f"{V1}{path}", json={"email": email, "password": "long enough pw"})
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == {"email": "at most 254 characters"}
    assert await sql(settings, "SELECT 1 FROM clients") == []


@pytest.mark.parametrize("before", ["1e20", str(2**63), "-5", "99999999999999999999999"])
async def test_audit_before_out_of_bigint_is_422(
    api: httpx.AsyncClient, alice: dict[str, str], before: str
) -> None:
    """An audit cursor no bigint id can reach is a 422 naming it."""
    r = await api.get(f"{V1}/audit", params={"before": before}, headers=alice)
    assert r.status_code in (400, 422), r.text
    assert r.status_code == 422 or r.headers["content-type"].startswith(PROBLEM)


@pytest.mark.parametrize(
    ("call", "body"),
    [
        ("POST /projects/web/rollback", {"version": 2**40}),
        ("POST /projects/web/scale", {"instances": 2**40}),
        ("PATCH /projects/web", {"cpu": 2**40}),
    ],
)
async def test_integers_beyond_their_columns_are_422(
    api: httpx.AsyncClient, alice: dict[str, str], web: str, call: str, body: dict
) -> None:
    """An integer over PostgreSQL's integer range is a 422 naming it, never a 500."""
    method, _, path = call.partition(" ")
    r = await api.request(method, f"{V1}{path}", json=body, headers=alice)
    assert r.status_code == 422, r.text
    assert r.json()["errors"]


async def test_a_database_data_error_is_422_not_500(settings: Settings, clean_db: object) -> None:
    """A value PostgreSQL refuses (here int4 overflow on the real server) answers 422."""

    @get("/boom")
    async def boom() -> None:
        conn = await asyncpg.connect(settings.db.dsn())
        try:
            await conn.fetch("SELECT $1::int4", 2**40)
        finally:
            await conn.close()

    @get("/boom-server")
    async def boom_server() -> None:
        conn = await asyncpg.connect(settings.db.dsn())
        try:
            await conn.fetch("SELECT repeat('x', 300)::varchar(254)::text, 'a'::int")
        finally:
            await conn.close()

    app = Litestar([boom, boom_server], exception_handlers=EXCEPTION_HANDLERS)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        for path in ("/boom", "/boom-server"):
            r = await c.get(path)
            assert r.status_code == 422, r.text
            assert r.headers["content-type"].startswith(PROBLEM)
            assert "1099511627776" not in r.text


async def test_env_over_the_limit_is_refused_without_waiting_for_the_row_lock(
    api: httpx.AsyncClient, alice: dict[str, str], web: str, settings: Settings
) -> None:
    """20,000 keys are refused before any database work: even a held row lock cannot stall it."""
    holder = await asyncpg.connect(settings.db.dsn())
    try:
        tx = holder.transaction()
        await tx.start()
        await holder.execute("SELECT 1 FROM projects WHERE name = 'web' FOR UPDATE")
        body = {f"K{i}": "v" for i in range(20_000)}
        r = await asyncio.wait_for(
            api.patch(f"{V1}/projects/web/env", json=body, headers=alice), timeout=60
        )
        assert r.status_code == 422, r.text
        assert r.json()["errors"] == {"env": "at most 500"}
        await tx.rollback()
    finally:
        await holder.close()
    assert await sql(settings, "SELECT 1 FROM env_vars") == []


async def test_env_limit_counts_what_is_stored_and_writes_nothing_over_it(
    api: httpx.AsyncClient, alice: dict[str, str], web: str, settings: Settings
) -> None:
    """400 stored + 101 new is over 500: refused, and the 400 are untouched; unsets make room."""
    first = {f"A{i}": "1" for i in range(400)}
    assert (await api.patch(f"{V1}/projects/web/env", json=first, headers=alice)).status_code == 200
    more = {f"B{i}": "2" for i in range(101)}
    r = await api.patch(f"{V1}/projects/web/env", json=more, headers=alice)
    assert r.status_code == 422
    pid = await project_id(settings, "web")
    rows = await sql(settings, "SELECT key FROM env_vars WHERE project = $1", pid)
    assert {r["key"] for r in rows} == set(first)
    swap = {**more, "A0": None, "A1": None}
    r = await api.patch(f"{V1}/projects/web/env", json=swap, headers=alice)
    assert r.status_code == 200, r.text
    assert len(r.json()["env"]) == 499


async def test_an_8_mib_header_is_refused_with_431(
    api: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    """Request headers over gateway.max_header_bytes get a 431 problem, not an answer."""
    r = await api.get(f"{V1}/projects", headers={**alice, "X-Big": "a" * (8 * 1024 * 1024)})
    assert r.status_code == 431
    assert r.headers["content-type"].startswith(PROBLEM)
    assert (await api.get(f"{V1}/projects", headers=alice)).status_code == 200
