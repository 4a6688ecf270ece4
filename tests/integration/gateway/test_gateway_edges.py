"""Edge behaviour: bad bodies, body limit, throttling, health, OpenAPI, unknown routes."""

from __future__ import annotations

import asyncio
import http.server
import re
import threading
from collections.abc import Callable, Iterator

import httpx
import msgspec
import pytest
from dbrows import sql
from gateway_harness import PASSWORD, PROBLEM, gateway, signup_login

from paastech import health
from paastech.services import Services
from paastech.settings import Settings

V1 = "/api/v1"


async def test_malformed_json_is_400(api: httpx.AsyncClient, alice: dict[str, str]) -> None:
    """A body that is not JSON is a 400 problem, not a 500 or a 422."""
    r = await api.post(
        f"{V1}/projects",
        content=b'{"name": ',
        headers={**alice, "content-type": "application/json"},
    )
    assert r.status_code == 400
    assert r.headers["content-type"].startswith(PROBLEM)
    assert r.json()["status"] == 400


async def test_missing_body_is_400(api: httpx.AsyncClient, alice: dict[str, str]) -> None:
    """A POST without its JSON body is a 400."""
    r = await api.post(f"{V1}/projects", headers=alice)
    assert r.status_code == 400


async def test_unknown_key_is_422_naming_it(api: httpx.AsyncClient, alice: dict[str, str]) -> None:
    """Unknown keys are refused and named, rather than silently ignored."""
    r = await api.post(f"{V1}/projects", json={"name": "web", "colour": "red"}, headers=alice)
    assert r.status_code == 422
    assert r.json()["errors"] == {"colour": "unknown field"}
    r = await api.post(f"{V1}/projects", json={}, headers=alice)
    assert r.status_code == 422
    assert r.json()["errors"] == {"name": "required"}
    r = await api.post(f"{V1}/projects", json={"name": 5}, headers=alice)
    assert r.status_code == 422
    assert "name" in r.json()["errors"]


async def test_bad_query_parameter_is_422(api: httpx.AsyncClient, alice: dict[str, str]) -> None:
    """An out-of-range query parameter is a 422 naming it."""
    r = await api.get(f"{V1}/audit", params={"limit": "0"}, headers=alice)
    assert r.status_code == 422
    assert "limit" in r.json()["errors"]


async def test_body_over_limit_is_413(
    settings: Settings, clean_db: object, tweak: Callable[..., Settings]
) -> None:
    """A body over gateway.body_limit is refused with 413 before it is parsed."""
    small = tweak(body_limit=2048)
    async with gateway(small, Services()) as client:
        r = await client.post(
            f"{V1}/auth/signup",
            json={"email": "big@example.com", "password": "x" * 4096},
        )
        assert r.status_code == 413
        assert r.headers["content-type"].startswith(PROBLEM)
        assert "x" * 100 not in r.text


async def test_unknown_route_is_problem_404(api: httpx.AsyncClient) -> None:
    """Unknown paths answer problem+json too."""
    r = await api.get(f"{V1}/nothing-here")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith(PROBLEM)


async def test_login_throttling_per_email(
    settings: Settings, clean_db: object, tweak: Callable[..., Settings]
) -> None:
    """The 11th wrong password in the window is a 429 with Retry-After; after it, login works."""
    # Short enough to wait out, long enough that 11 argon2 checks on a busy CI box fit in it.
    throttled = tweak(login_max_failures=10, login_window_seconds=6)
    async with gateway(throttled, Services()) as client:
        await signup_login(client, "eve@example.com")
        wrong = {"email": "eve@example.com", "password": "not the password"}
        for _ in range(10):
            assert (await client.post(f"{V1}/auth/login", json=wrong)).status_code == 401
        r = await client.post(f"{V1}/auth/login", json=wrong)
        assert r.status_code == 429
        assert 1 <= int(r.headers["retry-after"]) <= 6
        # Even the right password waits out the window.
        right = {"email": "eve@example.com", "password": PASSWORD}
        assert (await client.post(f"{V1}/auth/login", json=right)).status_code == 429
        await asyncio.sleep(int(r.headers["retry-after"]) + 0.2)
        assert (await client.post(f"{V1}/auth/login", json=right)).status_code == 200


async def test_login_throttling_per_ip(
    settings: Settings, clean_db: object, tweak: Callable[..., Settings]
) -> None:
    """Failures spread over many emails from one address are throttled too."""
    throttled = tweak(login_max_failures=3, login_window_seconds=60)
    async with gateway(throttled, Services()) as client:
        for i in range(3):
            body = {"email": f"u{i}@example.com", "password": "whatever-wrong"}
            assert (await client.post(f"{V1}/auth/login", json=body)).status_code == 401
        body = {"email": "fresh@example.com", "password": "whatever-wrong"}
        assert (await client.post(f"{V1}/auth/login", json=body)).status_code == 429


async def test_healthz(api: httpx.AsyncClient) -> None:
    """Liveness needs nothing but the process."""
    r = await api.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


async def test_readyz_names_each_component(api: httpx.AsyncClient) -> None:
    """Readiness lists all five components; postgres is up here; any failure means 503."""
    r = await api.get("/readyz")
    body = r.json()
    assert set(body["components"]) == set(health.COMPONENTS)
    assert body["components"]["postgres"] == {"ok": True, "reason": ""}
    failing = [n for n, c in body["components"].items() if not c["ok"]]
    assert r.status_code == (503 if failing else 200)
    assert all(body["components"][n]["reason"] for n in failing)


@pytest.fixture
def http_stub() -> Iterator[str]:
    """A loopback HTTP server answering 200 to every GET; yields host:port."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()


async def test_readiness_checks_each_component(settings: Settings, http_stub: str) -> None:
    """A component answering its health URL is ok; a closed port fails with a reason."""
    live = msgspec.structs.replace(
        settings,
        registry=msgspec.structs.replace(settings.registry, address=http_stub),
        fabio=msgspec.structs.replace(settings.fabio, ui_addr="127.0.0.1:1"),
        nomad=msgspec.structs.replace(settings.nomad, address=f"http://{http_stub}"),
    )
    results = await health.readiness(live, docker_socket="/nonexistent.sock", wait_seconds=1.0)
    assert results["registry"].ok
    assert results["nomad"].ok
    assert results["postgres"].ok
    assert results["fabio"] == health.Status(False, "connection refused")
    assert not results["docker"].ok


async def test_openapi_and_docs(api: httpx.AsyncClient) -> None:
    """The OpenAPI document lists the contract and the docs page is served."""
    r = await api.get("/api/openapi.json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    for path in (
        "/api/v1/auth/signup",
        "/api/v1/projects/{name}/env",
        "/api/v1/projects/{name}/builds/{build_id}/log",
        "/api/v1/projects/{name}/domains/{hostname}",
        "/api/v1/audit",
        "/readyz",
    ):
        assert path in paths
    docs = await api.get("/api/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()
    # The browser's assets come from the gateway itself, so the docs work with no CDN.
    assets = re.findall(r'(?:src|href)="(/api/docs-assets/[^"]+)"', docs.text)
    assert len(assets) == 3
    for asset in assets:
        got = await api.get(asset)
        assert got.status_code == 200, asset
        assert len(got.content) > 10_000, asset


async def test_every_api_route_needs_a_token(api: httpx.AsyncClient) -> None:
    """Apart from signup and login, every /api/v1 operation is 401 without a token."""
    schema = (await api.get("/api/openapi.json")).json()
    open_paths = {"/api/v1/auth/signup", "/api/v1/auth/login"}
    checked = 0
    for path, ops in schema["paths"].items():
        if not path.startswith("/api/v1") or path in open_paths:
            continue
        concrete = (
            path.replace("{name}", "web")
            .replace("{token_id}", "00000000-0000-0000-0000-000000000000")
            .replace("{key_id}", "00000000-0000-0000-0000-000000000000")
            .replace("{build_id}", "00000000-0000-0000-0000-000000000000")
            .replace("{hostname}", "example.com")
        )
        for method in ops:
            r = await api.request(method.upper(), concrete, json={})
            assert r.status_code == 401, (method, path, r.status_code)
            checked += 1
    assert checked >= 25


async def test_lost_database_connections_are_503_then_recover(
    api: httpx.AsyncClient, alice: dict[str, str], settings: Settings
) -> None:
    """Killed PostgreSQL connections answer 503 (never 500) and the pool recovers."""
    assert (await api.get(f"{V1}/projects", headers=alice)).status_code == 200
    await sql(
        settings,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    seen = [(await api.get(f"{V1}/projects", headers=alice)).status_code for _ in range(15)]
    assert set(seen) <= {200, 503}, seen
    assert seen[-1] == 200
