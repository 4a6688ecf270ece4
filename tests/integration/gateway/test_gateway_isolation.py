"""Tenant isolation: another Client gets 404 on everything of Alice's and changes nothing."""

from __future__ import annotations

import httpx
import pytest
from dbrows import seed_build, seed_release, snapshot
from fakes import RecordingScheduler
from test_gateway_accounts import ssh_key

from paastech.services import Scheduler
from paastech.settings import Settings

V1 = "/api/v1"


@pytest.fixture
def scheduler() -> Scheduler:
    # A reachable scheduler, so a 404 can only come from the ownership check, not a 503.
    return RecordingScheduler()


async def test_second_client_sees_404_and_changes_nothing(
    api: httpx.AsyncClient,
    alice: dict[str, str],
    bob: dict[str, str],
    settings: Settings,
    scheduler: Scheduler,
) -> None:
    """Every route taking a project, key, token, build or domain of Alice's is a 404 for Bob."""
    r = await api.post(f"{V1}/projects", json={"name": "web"}, headers=alice)
    assert r.status_code == 201
    assert (await api.post(f"{V1}/projects", json={"name": "bobs"}, headers=bob)).status_code == 201
    await seed_release(settings, "web")
    build = await seed_build(settings, "web", status="running", log="secret build output\n")
    await api.patch(f"{V1}/projects/web/env", json={"SECRET": "alice-only"}, headers=alice)
    await api.post(
        f"{V1}/projects/web/domains", json={"hostname": "alice.example.com"}, headers=alice
    )
    key = (
        await api.post(f"{V1}/keys", json={"name": "k", "public_key": ssh_key()}, headers=alice)
    ).json()["id"]
    token = (await api.post(f"{V1}/tokens", json={"name": "t"}, headers=alice)).json()["id"]
    assert isinstance(scheduler, RecordingScheduler)
    scheduler.calls.clear()
    before = await snapshot(settings)

    attempts: list[tuple[str, str, dict[str, object] | None]] = [
        ("DELETE", f"/tokens/{token}", None),
        ("DELETE", f"/keys/{key}", None),
        ("GET", "/projects/web", None),
        ("PATCH", "/projects/web", {"instances": 3}),
        ("DELETE", "/projects/web", None),
        ("POST", "/projects/web/scale", {"instances": 2}),
        ("GET", "/projects/web/env", None),
        ("GET", "/projects/web/env?reveal=true", None),
        ("PATCH", "/projects/web/env", {"SECRET": "bob-was-here"}),
        ("GET", "/projects/web/builds", None),
        ("GET", f"/projects/web/builds/{build}", None),
        ("GET", f"/projects/web/builds/{build}/log", None),
        ("GET", f"/projects/web/builds/{build}/log?follow=true", None),
        ("GET", f"/projects/bobs/builds/{build}", None),
        ("GET", f"/projects/bobs/builds/{build}/log", None),
        ("GET", "/projects/web/releases", None),
        ("POST", "/projects/web/rollback", {"version": 1}),
        ("GET", "/projects/web/instances", None),
        ("GET", "/projects/web/logs", None),
        ("GET", "/projects/web/domains", None),
        ("POST", "/projects/web/domains", {"hostname": "bob.example.com"}),
        ("DELETE", "/projects/web/domains/alice.example.com", None),
        ("DELETE", "/projects/bobs/domains/alice.example.com", None),
    ]
    for method, path, body in attempts:
        r = await api.request(method, V1 + path, json=body, headers=bob)
        assert r.status_code == 404, (method, path, r.status_code, r.text)
        # `instance` is Bob's own request path; detail and errors must reveal nothing.
        said = f"{r.json().get('detail', '')} {r.json().get('errors', '')}".lower()
        assert "alice" not in said, (method, path)
        assert "secret" not in said, (method, path)

    assert await snapshot(settings) == before
    assert scheduler.calls == []
    # Bob's own listings show none of Alice's things.
    for path in ("/projects", "/keys", "/audit"):
        listed = (await api.get(V1 + path, headers=bob)).text
        assert "web" not in listed.replace("bobs", "") or path == "/audit"
        assert "alice" not in listed
    assert [t["name"] for t in (await api.get(f"{V1}/tokens", headers=bob)).json()] == ["session"]
    # Alice still has everything.
    assert (await api.get(f"{V1}/projects/web", headers=alice)).status_code == 200
