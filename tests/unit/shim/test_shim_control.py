"""The control listener: what the idler reads to scale a function down without losing a request."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import pytest
from shim_harness import Serve

from paastech.shim import Request
from paastech.shim.config import ConfigError, ShimConfig, load_config


class Held:
    """A handler that holds each request until released, answering ``answer``.

    ``entered`` is set when a request reaches it; ``release`` lets requests finish.
    """

    def __init__(self, answer: str) -> None:
        self.answer = answer
        self.entered = threading.Event()
        self.release = threading.Event()

    def handler(self, request: Request) -> str:
        self.entered.set()
        self.release.wait(10)
        return self.answer

    async def wait_entered(self) -> None:
        await asyncio.to_thread(self.entered.wait, 10)


async def test_in_flight_and_last_request_are_reported(
    serve: Serve, client: httpx.AsyncClient
) -> None:
    """While a request runs in_flight is 1 and idle is 0; after it, the counters move on."""
    held = Held("done")
    async with serve(held.handler, control_port=0) as running:
        assert running.control_url is not None
        before = (await client.get(running.control_url + "/status")).json()
        pending = asyncio.create_task(client.get(running.url + "/"))
        await held.wait_entered()
        during = (await client.get(running.control_url + "/status")).json()
        held.release.set()
        assert (await pending).text == "done"
        after = (await client.get(running.control_url + "/status")).json()

    assert before["in_flight"] == 0
    assert before["requests_total"] == 0
    assert before["last_request_at"] is None
    assert during["in_flight"] == 1
    assert during["idle_seconds"] == 0
    assert during["requests_total"] == 1
    assert after["in_flight"] == 0
    assert after["requests_total"] == 1
    assert after["last_request_at"] >= during["last_request_at"]
    assert abs(after["last_request_at"] - time.time()) < 60
    assert after["draining"] is False


async def test_control_requests_are_not_activity(serve: Serve, client: httpx.AsyncClient) -> None:
    """Polling /status and /healthz never counts as a request (health checks keep it idle)."""
    async with serve(lambda request: "x", control_port=0) as running:
        assert running.control_url is not None
        health = await client.get(running.control_url + "/healthz")
        for _ in range(3):
            status = (await client.get(running.control_url + "/status")).json()
        missing = await client.get(running.control_url + "/other")

    assert health.json() == {"ok": True}
    assert status["requests_total"] == 0
    assert missing.status_code == 404


async def test_control_paths_on_the_service_port_reach_the_handler(
    serve: Serve, client: httpx.AsyncClient
) -> None:
    """The counters are not on the routed port: /status there is the Client's own path."""
    async with serve(lambda request: f"handler saw {request.path}", control_port=0) as running:
        response = await client.get(running.url + "/status")

    assert response.text == "handler saw /status"


async def test_control_listener_is_off_by_default(serve: Serve) -> None:
    """Without PAASTECH_CONTROL_PORT nothing else listens."""
    async with serve(lambda request: "x") as running:
        assert running.shim.control_port is None
        assert running.control_url is None


def test_config_defaults() -> None:
    """Only the handler is required; the rest has the documented defaults."""
    assert load_config({"PAASTECH_HANDLER": "main:handle"}) == ShimConfig(
        handler="main:handle",
        host="0.0.0.0",  # noqa: S104 - the documented default
        port=8080,
        control_port=None,
        handler_kind="auto",
        max_body_bytes=10 * 1024 * 1024,
    )


def test_config_reads_every_variable() -> None:
    """Each variable lands in its setting."""
    config = load_config(
        {
            "PAASTECH_HANDLER": "pkg.mod:app",
            "HOST": "127.0.0.1",
            "PORT": "9000",
            "PAASTECH_CONTROL_PORT": "9001",
            "PAASTECH_HANDLER_KIND": "ASGI",
            "PAASTECH_MAX_BODY_BYTES": "100",
            "PAASTECH_KEEP_ALIVE": "5",
            "PAASTECH_DRAIN_TIMEOUT": "2.5",
            "PAASTECH_THREADS": "4",
        }
    )
    assert config == ShimConfig(
        handler="pkg.mod:app",
        host="127.0.0.1",
        port=9000,
        control_port=9001,
        handler_kind="asgi",
        max_body_bytes=100,
        keep_alive_timeout=5.0,
        drain_timeout=2.5,
        threads=4,
    )


@pytest.mark.parametrize(
    ("environ", "names"),
    [
        ({}, "PAASTECH_HANDLER"),
        ({"PAASTECH_HANDLER": "main"}, "PAASTECH_HANDLER"),
        ({"PAASTECH_HANDLER": "m:f", "PORT": "http"}, "PORT"),
        ({"PAASTECH_HANDLER": "m:f", "PORT": "70000"}, "PORT"),
        ({"PAASTECH_HANDLER": "m:f", "PAASTECH_HANDLER_KIND": "wsgi"}, "PAASTECH_HANDLER_KIND"),
        ({"PAASTECH_HANDLER": "m:f", "PAASTECH_MAX_BODY_BYTES": "-1"}, "PAASTECH_MAX_BODY_BYTES"),
        ({"PAASTECH_HANDLER": "m:f", "PAASTECH_DRAIN_TIMEOUT": "0"}, "PAASTECH_DRAIN_TIMEOUT"),
    ],
)
def test_config_errors_name_the_variable(environ: dict[str, str], names: str) -> None:
    """A bad setting stops the shim with the variable's name in the message."""
    with pytest.raises(ConfigError, match=names):
        load_config(environ)


async def test_draining_answers_in_flight_and_reports_it(
    serve: Serve, client: httpx.AsyncClient
) -> None:
    """Once stopping, the running request still gets its answer (with Connection: close), the
    control listener reports the drain, and the service port takes no new connection."""
    held = Held("finished")
    async with serve(held.handler, control_port=0) as running:
        assert running.control_url is not None
        pending = asyncio.create_task(client.get(running.url + "/"))
        await held.wait_entered()
        running.shim.stop()
        await asyncio.sleep(0.05)  # let the stop close the service listener
        status = (await client.get(running.control_url + "/status")).json()
        health = await client.get(running.control_url + "/healthz")
        with pytest.raises(httpx.ConnectError):
            await client.get(running.url + "/")
        held.release.set()
        response = await pending

    assert status["draining"] is True
    assert status["in_flight"] == 1
    assert health.status_code == 503
    assert response.text == "finished"
    assert response.headers["connection"] == "close"


async def test_drain_timeout_gives_up_on_a_stuck_request(
    serve: Serve, client: httpx.AsyncClient
) -> None:
    """A request still running after the drain timeout makes serve() report False (exit 1)."""
    held = Held("late")
    async with serve(held.handler, drain_timeout=0.2) as running:
        pending = asyncio.create_task(client.get(running.url + "/"))
        await held.wait_entered()
        running.shim.stop()
        drained = await running.shim.serve()
        held.release.set()
        await pending

    assert drained is False
