"""Waking and sleeping, against a fake of Nomad's scale API and of the sleep path's rows, with
the app a real socket on loopback: one scale-up per wake however many requests wait, held
requests answered with their own bodies, 503 + Retry-After past the hold time, a drain that
gives up when a request arrives, a refused scale-down that leaves the project awake, and only
the leader's idler acting."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any, cast

import pytest
from fakes import FakeNomadScaling, FakeSleepRows

from paastech.errors import InvalidInput, WakeFailed
from paastech.scheduler import wake as wake_module
from paastech.scheduler.activator import Activator
from paastech.scheduler.idler import Idler
from paastech.scheduler.nomad import NomadApi
from paastech.scheduler.routes import Target
from paastech.scheduler.scaling import ScaleGate, scale_retrying
from paastech.scheduler.sleepers import Breakdown, Phase, Sleepers, SleepRows
from paastech.scheduler.wake import Waker

ACTIVATOR = ("127.0.0.1", 8002)


class EchoApp:
    """A tiny HTTP/1.1 app on loopback answering each request with its own body."""

    def __init__(self) -> None:
        self.requests = 0
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = await reader.readexactly(length) if length else b""
                self.requests += 1
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


@pytest.fixture
async def app() -> AsyncIterator[EchoApp]:
    echo = EchoApp()
    await echo.start()
    yield echo
    await echo.stop()


@pytest.fixture
def refused_port() -> Iterator[int]:
    """A loopback port bound but never listening: connects are refused, and the kernel cannot
    hand it out as a probe's own source port (a connect to a free port can meet itself)."""
    with contextlib.closing(socket.socket()) as unused:
        unused.bind(("127.0.0.1", 0))
        yield int(unused.getsockname()[1])


async def _nothing() -> None:
    return None


def parts(
    nomad: FakeNomadScaling, rows: FakeSleepRows, hold: float = 5.0
) -> tuple[Sleepers, Waker, Activator]:
    sleepers = Sleepers(*ACTIVATOR, rows=cast(SleepRows, rows))
    waker = Waker(cast(NomadApi, nomad), ScaleGate(), hold, _nothing, cast(SleepRows, rows))
    return sleepers, waker, Activator(sleepers, waker, "apps.localhost", hold)


async def call(
    activator: Activator, host: str, body: bytes, method: str = "POST"
) -> tuple[int, dict[bytes, bytes], bytes]:
    """One request through the activator's ASGI app; its status, headers and body."""
    scope = {
        "type": "http",
        "method": method,
        "path": "/echo",
        "raw_path": b"/echo",
        "query_string": b"",
        "headers": [(b"host", host.encode()), (b"content-length", str(len(body)).encode())],
    }
    chunks = [body[: len(body) // 2], body[len(body) // 2 :]]
    got: dict[str, Any] = {"body": b""}

    async def receive() -> dict[str, Any]:
        chunk = chunks.pop(0) if chunks else b""
        return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            got["status"] = message["status"]
            got["headers"] = dict(message["headers"])
        else:
            got["body"] += message.get("body", b"")

    await activator(scope, receive, send)
    return got["status"], got["headers"], got["body"]


async def test_twenty_cold_requests_make_one_scale_up_and_each_gets_its_own_body(
    app: EchoApp,
) -> None:
    """A sleeping container app: 20 requests at once wake it with one scale call; each
    answer is that request's own body, with the cold-start header and Server-Timing; one
    cold start is recorded; the next request is served by the awake instance."""
    nomad = FakeNomadScaling(port=int(app.server.sockets[0].getsockname()[1]))  # type: ignore[union-attr]
    rows = FakeSleepRows()
    rows.add("shop", kind="container")
    rows.projects[0]["asleep"] = True
    _, _, activator = parts(nomad, rows)

    bodies = [f"request {i} ".encode() * (i + 1) for i in range(20)]
    answers = await asyncio.gather(*(call(activator, "shop.apps.localhost", b) for b in bodies))

    assert nomad.scales == [1]
    assert [a[0] for a in answers] == [200] * 20
    assert [a[2] for a in answers] == bodies
    for _, headers, _ in answers:
        assert int(headers[b"x-paastech-cold-start"]) >= 0
        assert b"cold-start;dur=" in headers[b"server-timing"]
    assert ("awake", rows.projects[0]["id"]) in rows.writes
    for _ in range(100):  # stored after the answers, once Nomad reported the task's start
        if rows.cold_starts:
            break
        await asyncio.sleep(0.02)
    assert len(rows.cold_starts) == 1
    wake, total = rows.cold_starts[0]
    stored = cast(Breakdown, wake)
    assert stored.held == 20
    assert stored.placed_ms is not None
    assert stored.image_ready_ms is not None
    assert stored.started_ms is not None
    assert stored.first_answer_ms is not None
    assert total >= stored.first_answer_ms

    status, headers, body = await call(activator, "shop.apps.localhost", b"warm")
    assert (status, body) == (200, b"warm")
    assert b"x-paastech-cold-start" not in headers
    assert nomad.scales == [1]


async def test_a_wake_that_outlasts_the_hold_time_answers_503_with_retry_after(
    refused_port: int,
) -> None:
    """Nothing ever answers on the new allocation's port: the held request gets 503 and
    ``Retry-After`` within the hold time (never a hang), and the project counts as asleep."""
    nomad = FakeNomadScaling(port=refused_port)
    rows = FakeSleepRows()
    rows.add("shop", kind="container")
    rows.projects[0]["asleep"] = True
    sleepers, _, activator = parts(nomad, rows, hold=0.5)

    started = time.monotonic()
    status, headers, body = await call(activator, "shop.apps.localhost", b"x")
    assert status == 503
    assert headers[b"retry-after"].isdigit()
    assert b"retry shortly" in body
    assert time.monotonic() - started < 3
    assert sleepers.by_name["shop"].phase == Phase.ASLEEP


async def test_a_wake_whose_instance_refuses_every_probe_ends_at_its_deadline(
    monkeypatch: pytest.MonkeyPatch, refused_port: int
) -> None:
    """The probing stops at the deadline however the last probe ended. (On Python 3.11 a
    ``wait_for`` around the connect, whose refusal came in as the deadline expired, swallowed
    the deadline: that wake probed forever and its project stayed "waking" for good.)"""
    monkeypatch.setattr(wake_module, "_PROBE_SECONDS", 0)  # back-to-back probes: the race
    for attempt in range(40):
        nomad = FakeNomadScaling(port=refused_port)
        rows = FakeSleepRows()
        rows.add("shop", kind="container")
        sleepers, waker, _ = parts(nomad, rows, hold=0.01)
        sleeper = await sleepers.get("shop")
        assert sleeper is not None
        task = waker.wake(sleeper, time.time())
        done, _ = await asyncio.wait([task], timeout=2)
        assert done, f"wake {attempt} still probing long after its deadline"
        assert isinstance(task.exception(), WakeFailed)
        assert sleeper.phase == Phase.ASLEEP


async def test_an_unknown_host_gets_404_without_waking_anything() -> None:
    nomad = FakeNomadScaling()
    rows = FakeSleepRows()
    rows.add("shop")
    _, _, activator = parts(nomad, rows)
    status, _, _ = await call(activator, "other.apps.localhost", b"", method="GET")
    assert status == 404
    assert nomad.scales == []


async def test_scaling_retries_while_a_deployment_is_active_then_gives_up_at_the_deadline() -> None:
    nomad = FakeNomadScaling(refusals=2)
    await scale_retrying(cast(NomadApi, nomad), "paastech-shop", 1, "wake", time.monotonic() + 5)
    assert nomad.scales == [1]

    stubborn = FakeNomadScaling(refusals=1000)
    with pytest.raises(InvalidInput):
        await scale_retrying(
            cast(NomadApi, stubborn), "paastech-shop", 1, "wake", time.monotonic() + 0.3
        )
    assert stubborn.scales == []


async def test_routes_of_sleeping_projects_point_at_the_activator() -> None:
    """Asleep: the activator. An awake function with a healthy instance: straight to it.
    A container app that opted in: always the activator (its activity signal)."""
    rows = FakeSleepRows()
    rows.add("sleepy")
    rows.projects[0]["asleep"] = True
    rows.add("busy")
    rows.add("box", kind="container")
    sleepers = Sleepers(*ACTIVATOR, rows=cast(SleepRows, rows))
    nomad_targets = [
        Target(project="busy", address="127.0.0.1", port=21001, healthy=True),
        Target(project="box", address="127.0.0.1", port=21002, healthy=True),
        Target(project="plain", address="127.0.0.1", port=21003, healthy=True),
    ]
    routed = {(t.project, t.port) for t in await sleepers.route(nomad_targets)}
    assert routed == {("busy", 21001), ("plain", 21003), ("box", 8002), ("sleepy", 8002)}


def idler_for(
    nomad: FakeNomadScaling, rows: FakeSleepRows, leading: asyncio.Event | None = None
) -> tuple[Sleepers, Idler]:
    sleepers = Sleepers(*ACTIVATOR, rows=cast(SleepRows, rows))
    idler = Idler(
        cast(NomadApi, nomad),
        sleepers,
        ScaleGate(),
        _nothing,
        interval=0.05,
        route_delay=0.2,
        leading=leading,
    )
    return sleepers, idler


async def _awake_container(app: EchoApp) -> tuple[FakeNomadScaling, FakeSleepRows]:
    nomad = FakeNomadScaling(port=int(app.server.sockets[0].getsockname()[1]))  # type: ignore[union-attr]
    await nomad.scale("paastech-box", "web", 1, "deployed")
    nomad.scales.clear()
    rows = FakeSleepRows()
    rows.add("box", kind="container", idle_timeout=0)
    return nomad, rows


async def test_an_idle_project_is_written_asleep_then_scaled_to_zero(app: EchoApp) -> None:
    nomad, rows = await _awake_container(app)
    sleepers, idler = idler_for(nomad, rows)
    await idler.tick()
    sleeper = sleepers.by_name["box"]
    assert sleeper.phase == Phase.DRAINING  # routes moved to the activator first
    await asyncio.wait_for(_drained(idler), 5)
    assert nomad.scales == [0]
    assert rows.writes[-1] == ("asleep", rows.projects[0]["id"])
    assert sleeper.phase == Phase.ASLEEP


async def test_a_request_during_the_drain_keeps_the_project_awake_and_is_served(
    app: EchoApp,
) -> None:
    """The drain has moved the routes to the activator; a request arrives there: it is
    forwarded to the still-running instance, and the drain gives up (no scale to 0)."""
    nomad, rows = await _awake_container(app)
    sleepers, idler = idler_for(nomad, rows)
    waker = Waker(cast(NomadApi, nomad), ScaleGate(), 5.0, _nothing, cast(SleepRows, rows))
    activator = Activator(sleepers, waker, "apps.localhost", 5.0)
    await idler.tick()
    assert sleepers.by_name["box"].phase == Phase.DRAINING
    status, _, body = await call(activator, "box.apps.localhost", b"just in time")
    assert (status, body) == (200, b"just in time")
    await asyncio.wait_for(_drained(idler), 5)
    assert nomad.scales == []
    assert sleepers.by_name["box"].phase == Phase.AWAKE
    assert not any(kind == "asleep" for kind, _ in rows.writes)


async def test_a_refused_scale_down_leaves_the_project_awake_in_the_database(
    app: EchoApp,
) -> None:
    nomad, rows = await _awake_container(app)
    nomad.refusals = 1
    sleepers, idler = idler_for(nomad, rows)
    await idler.tick()
    await asyncio.wait_for(_drained(idler), 5)
    assert nomad.scales == []
    assert rows.writes[-2:] == [
        ("asleep", rows.projects[0]["id"]),
        ("awake", rows.projects[0]["id"]),
    ]
    assert rows.projects[0]["asleep"] is False
    assert sleepers.by_name["box"].phase == Phase.AWAKE


async def test_only_the_leader_puts_projects_to_sleep(app: EchoApp) -> None:
    nomad, rows = await _awake_container(app)
    leading = asyncio.Event()
    _, idler = idler_for(nomad, rows, leading)
    task = asyncio.create_task(idler.run())
    try:
        await asyncio.sleep(0.5)
        assert nomad.scales == []
        nomad.changed.clear()
        leading.set()
        await asyncio.wait_for(nomad.changed.wait(), 5)
        assert nomad.scales == [0]
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def test_server_timing_lists_each_phase_then_the_total() -> None:
    wake = Breakdown(started_at=0, placed_ms=40, image_ready_ms=60, started_ms=90)
    wake.first_answer_ms = 150
    assert wake.server_timing(170) == (
        "placed;dur=40, image;dur=20, started;dur=30, healthy;dur=60, cold-start;dur=170"
    )
    assert Breakdown(started_at=0).server_timing(5) == "cold-start;dur=5"


async def _drained(idler: Idler) -> None:
    await asyncio.gather(*idler._drains.values())


async def test_an_instance_nomad_still_calls_pending_is_not_dropped_after_a_wake(
    app: EchoApp,
) -> None:
    """Nomad's servers learn a task runs a little after it answers: right after a wake the
    idler must not forget the instance, or the next (warm) request would count as cold."""
    nomad = FakeNomadScaling(port=int(app.server.sockets[0].getsockname()[1]))  # type: ignore[union-attr]
    rows = FakeSleepRows()
    rows.add("shop", kind="container", idle_timeout=300)
    rows.projects[0]["asleep"] = True
    sleepers, _, activator = parts(nomad, rows)
    status, headers, _ = await call(activator, "shop.apps.localhost", b"cold")
    assert status == 200
    assert b"x-paastech-cold-start" in headers
    nomad.allocs[0]["ClientStatus"] = "pending"  # the server has not heard from the client
    _, idler = idler_for(nomad, rows)
    idler.sleepers = sleepers
    await idler.tick()
    assert [i.alloc_id for i in sleepers.by_name["shop"].instances] == [nomad.allocs[0]["ID"]]
    status, headers, body = await call(activator, "shop.apps.localhost", b"warm")
    assert (status, body) == (200, b"warm")
    assert b"x-paastech-cold-start" not in headers
    assert nomad.scales == [1]


async def test_a_request_that_finds_an_instance_already_up_gets_no_cold_start_header(
    app: EchoApp,
) -> None:
    """The activator has not heard of an instance that Nomad placed before the request came
    (a push woke the project): the request is forwarded at once, as a warm one."""
    nomad = FakeNomadScaling(port=int(app.server.sockets[0].getsockname()[1]))  # type: ignore[union-attr]
    await nomad.scale("paastech-shop", "web", 1, "a push woke it")
    rows = FakeSleepRows()
    rows.add("shop", kind="container")
    rows.projects[0]["asleep"] = True
    _, _, activator = parts(nomad, rows)
    await asyncio.sleep(0.01)
    status, headers, body = await call(activator, "shop.apps.localhost", b"hi")
    assert (status, body) == (200, b"hi")
    assert b"x-paastech-cold-start" not in headers
    assert nomad.scales == [1]
