"""A new user's whole way: sign up and add a key through the gateway, push, read the build there.

Real gateway app (ASGI in this loop), real forge, Nomad, Docker and registry.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from forge_harness import User, make_key, new_worktree

from paastech.db import connected
from paastech.gateway.app import create_app
from paastech.gateway.hotreads import hot_reads
from paastech.services import Services
from paastech.settings import Settings

pytestmark = pytest.mark.integration
V1 = "/api/v1"


@contextlib.asynccontextmanager
async def gateway(settings: Settings, services: Services) -> AsyncIterator[httpx.AsyncClient]:
    """The real gateway app over ASGI in this loop (as tests/integration/gateway does it)."""
    transport = httpx.ASGITransport(app=create_app(settings, services), client=("127.0.0.1", 1))
    async with (
        connected(settings.db),
        hot_reads(settings.db),
        httpx.AsyncClient(transport=transport, base_url="http://gw") as client,
    ):
        yield client


async def signup_login(api: httpx.AsyncClient, email: str) -> dict[str, str]:
    body = {"email": email, "password": "correct horse battery"}
    assert (await api.post(f"{V1}/auth/signup", json=body)).status_code == 201
    login = await api.post(f"{V1}/auth/login", json=body)
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['token']}"}


async def test_failed_builds_logs_are_served_and_followed_by_the_gateway(
    start_nomad_forge: Any, tmp_path: Path
) -> None:
    """Nothing runnable and a failing Dockerfile: both kept, listed, and their logs served."""
    run = await start_nomad_forge()
    forge = run.forge
    services = Services()
    async with gateway(forge.settings, services) as api:
        auth = await signup_login(api, f"new-{uuid.uuid4().hex[:6]}@example.org")
        home = tmp_path / "home"
        key, public, _ = await make_key(home / ".ssh")
        added = await api.post(
            f"{V1}/keys", json={"name": "laptop", "public_key": public}, headers=auth
        )
        assert added.status_code == 201, added.text
        created = await api.post(f"{V1}/projects", json={"name": "firsttry"}, headers=auth)
        assert created.status_code == 201, created.text
        user = User(client_id=uuid.uuid4(), key=key, port=forge.port, home=home)
        work = await new_worktree(user, tmp_path / "w", {"README.md": "hi\n"})

        nothing = await user.git("push", user.remote("firsttry"), "main", cwd=work)
        (work / "Dockerfile").write_text(
            f"FROM paastech/base\nRUN echo step-{uuid.uuid4()} && sleep 2 && false\n"
        )
        await user.git("add", "-A", cwd=work)
        await user.git("commit", "-q", "-m", "dockerfile", cwd=work)
        pushing = asyncio.create_task(user.git("push", user.remote("firsttry"), "main", cwd=work))
        followed = None
        for _ in range(300):
            listed = (await api.get(f"{V1}/projects/firsttry/builds", headers=auth)).json()
            if len(listed) == 2 and listed[0]["status"] == "running":
                followed = asyncio.create_task(
                    api.get(
                        f"{V1}/projects/firsttry/builds/{listed[0]['id']}/log",
                        params={"follow": "true"},
                        headers=auth,
                        timeout=120,
                    )
                )
                break
            await asyncio.sleep(0.05)
        failing = await pushing
        builds = (await api.get(f"{V1}/projects/firsttry/builds", headers=auth)).json()
        logs = [
            (await api.get(f"{V1}/projects/firsttry/builds/{b['id']}/log", headers=auth)).text
            for b in builds
        ]
        streamed = (await followed).text if followed is not None else None

    assert nothing.status != 0
    assert "looked for Dockerfile" in nothing.stderr
    assert failing.status != 0
    assert "returned a non-zero code: 1" in failing.stderr
    assert [(b["number"], b["status"]) for b in builds] == [(2, "failed"), (1, "failed")]
    assert "returned a non-zero code: 1" in builds[0]["error"]
    assert "looked for Dockerfile" in logs[1]
    assert "Step 2/2 : RUN echo step-" in logs[0]
    assert "! Build failed: docker build failed:" in logs[0]
    assert streamed == logs[0]
