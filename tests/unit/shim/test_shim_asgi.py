"""An ASGI app as the handler: detected, served per request, its lifespan honoured."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
from shim_harness import Serve

from paastech.shim.apps import is_asgi
from paastech.shim.asgi import AsgiApp, Lifespan, LifespanFailed

Scope = dict[str, Any]


async def echo_app(scope: Scope, receive: Any, send: Any) -> None:
    """A bare ASGI app: echoes method, path, query and body; streams when asked to."""
    message = await receive()
    body = f"{scope['method']} {scope['path']} {scope['query_string'].decode()} ".encode()
    body += message["body"]
    if scope["path"] == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for part in (b"one ", b"two ", b"three"):
            await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    await send({"type": "http.response.start", "status": 201, "headers": [(b"x-app", b"asgi")]})
    await send({"type": "http.response.body", "body": body})


class ClassApp:
    """An ASGI app as an object with ``async def __call__`` (how frameworks ship them)."""

    def __init__(self) -> None:
        self.started = False

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    self.started = True
                    scope["state"]["db"] = "connected"
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": scope["state"].get("db", "").encode()})


def plain(request: Any) -> str:
    return "plain"


async def plain_async(request: Any) -> str:
    return "plain"


def sync_three(scope: Any, receive: Any, send: Any) -> None:
    return None


@pytest.mark.parametrize(
    ("handler", "asgi"),
    [
        (echo_app, True),
        (ClassApp(), True),
        (plain, False),
        (plain_async, False),
        (sync_three, False),
        (lambda request: "x", False),
    ],
)
def test_asgi_is_told_from_the_signature(handler: Any, asgi: bool) -> None:
    """Async and (scope, receive, send) means ASGI; anything else is a plain handler."""
    assert is_asgi(handler) is asgi


async def test_asgi_app_answers_with_its_status_headers_and_body(
    serve: Serve, client: httpx.AsyncClient
) -> None:
    """The app gets the request (body included) and its response goes out as sent."""
    async with serve(echo_app) as running:
        response = await client.post(running.url + "/p%20q?a=1", content=b"data")

    assert response.status_code == 201
    assert response.headers["x-app"] == "asgi"
    assert response.text == "POST /p q a=1 data"
    assert response.headers["content-length"] == str(len(response.content))


async def test_asgi_streamed_body_arrives_whole(serve: Serve, client: httpx.AsyncClient) -> None:
    """A response sent in parts without a length is chunked and reassembled by the client."""
    async with serve(echo_app) as running:
        response = await client.get(running.url + "/stream")

    assert response.headers["transfer-encoding"] == "chunked"
    assert response.text == "one two three"


async def test_asgi_exception_before_response_is_500(
    serve: Serve, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    """An app that raises answers a generic 500 and logs the traceback."""

    async def failing(scope: Scope, receive: Any, send: Any) -> None:
        raise ValueError("token=s3cret")

    with caplog.at_level(logging.ERROR, logger="paastech_shim"):
        async with serve(failing) as running:
            response = await client.get(running.url + "/")

    assert response.status_code == 500
    assert "s3cret" not in response.text
    assert "s3cret" in caplog.text


async def test_asgi_app_without_response_is_500(serve: Serve, client: httpx.AsyncClient) -> None:
    """An app that returns without sending anything is a bug: 500, not a hung Client."""

    async def silent(scope: Scope, receive: Any, send: Any) -> None:
        return None

    async with serve(silent) as running:
        response = await client.get(running.url + "/")

    assert response.status_code == 500


async def test_handler_kind_asgi_forces_asgi(serve: Serve, client: httpx.AsyncClient) -> None:
    """PAASTECH_HANDLER_KIND=asgi serves an app whose signature does not tell (a wrapper)."""

    def wrapper(*args: Any) -> Any:
        return echo_app(*args)

    async with serve(wrapper, handler_kind="asgi") as running:
        response = await client.get(running.url + "/w")

    assert response.text == "GET /w  "


async def test_lifespan_startup_runs_and_shares_state(
    serve: Serve, client: httpx.AsyncClient
) -> None:
    """Lifespan startup completes before serving, and its state reaches each request scope."""
    app = ClassApp()
    asgi = AsgiApp(app)
    lifespan = Lifespan(asgi)

    assert await lifespan.startup() is True
    assert app.started
    async with serve(app) as running:
        # serve() wraps the app anew; check the state path through the wrapper used here
        running.shim.app = asgi
        response = await client.get(running.url + "/")
    await lifespan.shutdown()

    assert response.text == "connected"


async def test_app_without_lifespan_is_served_anyway() -> None:
    """An app that raises on the lifespan scope just does not use it (uvicorn's auto mode)."""
    assert await Lifespan(AsgiApp(echo_app)).startup() is False


async def test_lifespan_startup_failure_is_reported() -> None:
    """startup.failed stops the shim with the app's reason."""

    async def refusing(scope: Scope, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "no database"})

    with pytest.raises(LifespanFailed, match="no database"):
        await Lifespan(AsgiApp(refusing)).startup()


async def test_a_real_framework_app_is_served(serve: Serve, client: httpx.AsyncClient) -> None:
    """A Litestar app (the platform's own framework) is detected as ASGI and answers JSON."""
    from litestar import Litestar, post  # noqa: PLC0415 - only this test needs a framework
    from litestar.params import FromPath, JSONBody  # noqa: PLC0415

    @post("/items/{name:str}", status_code=201)
    async def create(name: FromPath[str], data: JSONBody[dict[str, int]]) -> dict[str, object]:
        return {"name": name, "data": data}

    app = Litestar([create])
    assert is_asgi(app)
    lifespan = Lifespan(AsgiApp(app))
    assert await lifespan.startup() is True
    async with serve(app) as running:
        response = await client.post(running.url + "/items/a%20b", json={"n": 1})
    await lifespan.shutdown()

    assert response.status_code == 201
    assert response.json() == {"name": "a b", "data": {"n": 1}}
