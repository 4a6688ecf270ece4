"""The route feed follows Nomad: healthy instances of app jobs get routes, unhealthy ones none,
and Fabio forwards each project's hosts (with and without its port, custom domains too)."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import msgspec
import pytest
import uvicorn
from app_harness import AppJobs, add_project
from imagebuild import free_port

from paastech import db
from paastech.infra.fabio import ensure_fabio
from paastech.scheduler.feed import create_feed_app
from paastech.scheduler.nomad import NomadApi
from paastech.scheduler.route_source import RouteSource
from paastech.scheduler.routes import RouteDef
from paastech.settings import Settings

pytestmark = pytest.mark.integration


async def _until(source: RouteSource, ok: Callable[[list[RouteDef]], bool]) -> list[RouteDef]:
    """The table once ``ok`` holds for it (``run()`` refreshes it in the background)."""
    deadline = time.monotonic() + 90
    table = await source.table()
    while not ok(table):
        assert time.monotonic() < deadline, f"route table never got there: {table}"
        await asyncio.sleep(0.2)
        table = await source.table()
    return table


@contextlib.asynccontextmanager
async def running(source: RouteSource) -> AsyncIterator[RouteSource]:
    task = asyncio.create_task(source.run())
    try:
        yield source
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_only_healthy_allocations_get_routes_for_every_host_spelling(
    nomad_settings: Settings,
    nomad_api: NomadApi,
    app_jobs: AppJobs,
    project_name: Callable[[str], str],
    clean_db: object,
) -> None:
    """Two instances passing their check are routed under the app host, the host with the
    proxy port and the project's verified custom domain (not under a domain it only claims);
    an app whose check fails gets no route."""
    good, bad = project_name("good"), project_name("bad")
    async with db.connected(nomad_settings.db):
        await add_project(
            good, (f"www.{good}.example.org",), unverified=(f"claimed.{good}.example.org",)
        )
        app_jobs.run(good, instances=2)
        app_jobs.run(bad, health_path="/no-such-page")
        app_jobs.wait_running(f"paastech-{bad}", 1)
        source = RouteSource(nomad_settings, nomad_api)
        async with running(source):
            table = await _until(
                source,
                lambda t: len({r.dst for r in t if r.service == f"paastech-{good}"}) == 2,
            )
            # The failing app has run its check many times by now (every 2 s).
            await asyncio.sleep(5)
            table = await source.table()

    mine = [r for r in table if r.service in (f"paastech-{good}", f"paastech-{bad}")]
    assert {r.service for r in mine} == {f"paastech-{good}"}
    assert {r.src for r in mine} == {
        f"{good}.apps.localhost/",
        f"{good}.apps.localhost:9999/",
        f"www.{good}.example.org/",
        f"www.{good}.example.org:9999/",
    }
    allocs = app_jobs.allocations(f"paastech-{good}")
    assert len({r.dst for r in mine}) == 2
    assert all(r.dst.startswith("http://127.0.0.1:") for r in mine)
    assert len(allocs) == 2


async def test_fabio_serves_the_app_from_the_feed_and_drops_it_when_it_stops(  # noqa: PLR0917 - pytest fixtures
    nomad_settings: Settings,
    nomad_api: NomadApi,
    app_jobs: AppJobs,
    project_name: Callable[[str], str],
    fabio_binary: Path,
    tmp_path: Path,
    clean_db: object,
) -> None:
    """Through a real Fabio polling the real feed: the app answers at its host (bare and with
    the proxy port); once its job is stopped Fabio answers 404 for it."""
    name = project_name("fab")
    proxy_port = free_port()
    fabio = msgspec.structs.replace(
        nomad_settings.fabio,
        proxy_addr=f"127.0.0.1:{proxy_port}",
        ui_addr=f"127.0.0.1:{free_port()}",
        route_feed_port=free_port(),
        route_feed_secret=uuid.uuid4().hex,
        poll_interval="200ms",
        feed_timeout="1s",
        route_refresh_seconds=0.5,
    )
    settings = msgspec.structs.replace(nomad_settings, fabio=fabio)
    source = RouteSource(settings, nomad_api)
    server = uvicorn.Server(
        uvicorn.Config(
            create_feed_app(fabio, source.table),
            host="127.0.0.1",
            port=fabio.route_feed_port,
            log_level="warning",
        )
    )
    feed = asyncio.create_task(server.serve())
    router = await asyncio.to_thread(
        ensure_fabio, tmp_path, fabio, {"FABIO_BIN": str(fabio_binary)}, name="fabio-rt"
    )
    try:
        async with db.connected(settings.db), running(source), httpx.AsyncClient() as http:
            job = app_jobs.run(name)

            async def ask(host: str) -> httpx.Response:
                return await http.get(
                    f"http://127.0.0.1:{proxy_port}/", headers={"Host": host}, timeout=5
                )

            deadline = time.monotonic() + 90
            answer = await ask(f"{name}.apps.localhost")
            while answer.status_code != 200 and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
                answer = await ask(f"{name}.apps.localhost")
            assert answer.status_code == 200
            assert answer.text.startswith("hello from ")
            with_port = await ask(f"{name}.apps.localhost:{proxy_port}")
            assert (with_port.status_code, with_port.text) == (200, answer.text)
            assert (await ask("nobody.apps.localhost")).status_code == 404

            app_jobs.purge(job)
            deadline = time.monotonic() + 30
            while (await ask(f"{name}.apps.localhost")).status_code != 404:
                assert time.monotonic() < deadline, "the stopped app kept its route"
                await asyncio.sleep(0.2)
    finally:
        router.stop()
        server.should_exit = True
        await feed
