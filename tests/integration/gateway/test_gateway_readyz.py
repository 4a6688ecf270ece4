"""``/readyz`` against the real stack: all five ok, then Nomad stopped and brought back."""

from __future__ import annotations

import asyncio
import http.server
import os
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from components import NomadAgent, RegistryAuth, require
from gateway_harness import gateway
from imagebuild import free_port

from paastech.errors import PaasTechError
from paastech.infra import nomad as nomad_infra
from paastech.infra.fabio import ensure_fabio
from paastech.infra.process import Running
from paastech.services import Services
from paastech.settings import Settings, load_settings

pytestmark = pytest.mark.integration

WAIT_SECONDS = 60.0


@pytest.fixture
def second_agent(tmp_path: Path, nomad_agent: NomadAgent) -> Iterator[NomadAgent]:
    """A Nomad dev agent of its own on free ports (this test stops it; the shared one keeps
    serving the rest of the suite)."""
    http, rpc, serf = free_port(), free_port(), free_port()
    settings = msgspec.structs.replace(load_settings({}).nomad, address=f"http://127.0.0.1:{http}")
    state = tmp_path / "agent"
    agent = NomadAgent(
        settings.address, nomad_infra.management_token(state), state, nomad_agent.docker_auth
    )
    handle: dict[str, Running] = {}

    def start() -> None:
        try:
            handle["running"] = nomad_infra.ensure_nomad_agent(
                state, settings, dict(os.environ), ports=(http, rpc, serf)
            )
        except PaasTechError as exc:
            require("nomad", str(exc))

    def stop() -> None:
        if "running" in handle:
            handle.pop("running").stop()

    agent.start = start  # type: ignore[method-assign]
    agent.stop = stop  # type: ignore[method-assign]
    start()
    yield agent
    stop()


@pytest.fixture
def fabio_up(tmp_path: Path, fabio_binary: Path) -> Iterator[str]:
    """A Fabio of its own on free ports; its UI address."""
    base = load_settings({}).fabio
    settings = msgspec.structs.replace(
        base,
        proxy_addr=f"127.0.0.1:{free_port()}",
        ui_addr=f"127.0.0.1:{free_port()}",
        route_feed_port=free_port(),
        route_feed_secret="readyz-test",
    )
    running = ensure_fabio(tmp_path, settings, {"FABIO_BIN": str(fabio_binary)}, name="fabio-rz")
    yield settings.ui_addr
    running.stop()


@pytest.fixture
async def readyz_api(
    settings: Settings,
    clean_db: Any,
    *,
    second_agent: NomadAgent,
    registry_auth: RegistryAuth,
    docker_daemon: str,
    fabio_up: str,
) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway configured as the dev stack configures it: token, registry, Fabio."""
    configured = msgspec.structs.replace(
        settings,
        nomad=msgspec.structs.replace(
            settings.nomad, address=second_agent.address, token=second_agent.token
        ),
        registry=msgspec.structs.replace(settings.registry, address=registry_auth.address),
        fabio=msgspec.structs.replace(settings.fabio, ui_addr=fabio_up),
    )
    async with gateway(configured, Services()) as client:
        yield client


async def _wait_for(api: httpx.AsyncClient, status: int) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT_SECONDS
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        r = await api.get("/readyz")
        body = r.json()
        if r.status_code == status:
            return body
        await asyncio.sleep(0.5)
    raise AssertionError(f"/readyz never answered {status}: {body}")


async def test_readyz_follows_nomad_going_away_and_coming_back(
    readyz_api: httpx.AsyncClient, second_agent: NomadAgent
) -> None:
    """With the stack up every component is ok (200); with Nomad stopped /readyz is 503
    naming nomad with a short reason while the others stay ok; with it back, 200 again."""
    up = await _wait_for(readyz_api, 200)
    assert up["components"] == {
        name: {"ok": True, "reason": ""}
        for name in ("postgres", "nomad", "docker", "registry", "fabio")
    }

    await asyncio.to_thread(second_agent.stop)
    down = await _wait_for(readyz_api, 503)
    failing = {name for name, c in down["components"].items() if not c["ok"]}
    assert failing == {"nomad"}
    assert down["components"]["nomad"]["reason"] == "connection refused"

    await asyncio.to_thread(second_agent.start)
    back = await _wait_for(readyz_api, 200)
    assert all(c["ok"] for c in back["components"].values())


async def test_readyz_names_a_wrong_nomad_token_without_leaking_it(
    settings: Settings, clean_db: Any, nomad_agent: NomadAgent
) -> None:
    """A gateway holding a token the agent does not accept reports nomad as unauthorized,
    and nothing of the token appears in the answer."""
    wrong = "00000000-1111-2222-3333-444444444444"
    configured = msgspec.structs.replace(
        settings, nomad=msgspec.structs.replace(settings.nomad, token=wrong)
    )
    async with gateway(configured, Services()) as api:
        r = await api.get("/readyz")
    assert r.status_code == 503
    assert r.json()["components"]["nomad"] == {"ok": False, "reason": "unauthorized (status 403)"}
    assert wrong not in r.text


async def test_readyz_is_answered_from_a_short_cache(settings: Settings, clean_db: Any) -> None:
    """Twenty anonymous /readyz calls in a row cost one round of probes, not twenty: the
    agent behind it sees one request (a flood of /readyz cannot load the components)."""
    seen: list[str] = []

    class Agent(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Agent)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        configured = msgspec.structs.replace(
            settings,
            nomad=msgspec.structs.replace(
                settings.nomad, address=f"http://127.0.0.1:{server.server_address[1]}"
            ),
        )
        async with gateway(configured, Services()) as api:
            answers = [await api.get("/readyz") for _ in range(20)]
    finally:
        server.shutdown()
    assert {r.json()["components"]["nomad"]["ok"] for r in answers} == {True}
    assert seen == ["/v1/agent/self"]
