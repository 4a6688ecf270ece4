"""Serve an ASGI 3 app: ``http`` scopes per request, ``lifespan`` around the whole run.

The request body is read whole before the app runs (it is bounded by the body limit
anyway), so ``receive()`` returns it in one ``http.request`` message and then waits for the
response to end before reporting ``http.disconnect``. A response without ``content-length``
is streamed chunked. Lifespan is best effort, as uvicorn's ``auto`` mode: an app that raises
on the ``lifespan`` scope simply does not use it; one that reports ``startup.failed`` stops
the shim.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote

from .wire import Call, Exchange, check_header, error_response

log = logging.getLogger("paastech_shim")
Message = dict[str, Any]
ASGIApp = Callable[
    [Message, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]],
    Awaitable[None],
]
_ASGI = {"version": "3.0", "spec_version": "2.3"}
GENERIC_500 = "Internal Server Error: the function failed; see the project's logs"


class LifespanFailed(Exception):
    """The app reported ``lifespan.startup.failed`` (its message is the reason)."""


class AsgiApp:
    """An ASGI 3 app behind the shim's HTTP/1.1 server."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.state: dict[str, Any] = {}

    async def __call__(self, call: Call, exchange: Exchange) -> None:
        head = call.head
        scope: Message = {
            "type": "http",
            "asgi": _ASGI,
            "http_version": head.http_version,
            "method": head.method,
            "scheme": "http",
            "path": unquote(head.raw_path),
            "raw_path": head.raw_path.encode("latin-1"),
            "query_string": head.query_string.encode("latin-1"),
            "root_path": "",
            "headers": [
                (name.lower().encode("latin-1"), value.encode("latin-1"))
                for name, value in head.headers
            ],
            "client": call.client,
            "server": call.server,
            "state": dict(self.state),
        }
        response = _Response(exchange)
        body_given = False

        async def receive() -> Message:
            nonlocal body_given
            if not body_given:
                body_given = True
                return {"type": "http.request", "body": call.body, "more_body": False}
            await response.done.wait()
            return {"type": "http.disconnect"}

        try:
            await self.app(scope, receive, response.send)
        except Exception:
            log.exception("ASGI app failed on %s %s", head.method, head.raw_path)
            if exchange.started:
                exchange.abort()
            else:
                headers, body = error_response(GENERIC_500)
                await exchange.respond(500, headers, body)
            return
        finally:
            response.done.set()
        if not exchange.started and response.status is None:
            log.error("ASGI app sent no response to %s %s", head.method, head.raw_path)
            headers, body = error_response(GENERIC_500)
            await exchange.respond(500, headers, body)
        else:
            await response.close()


class _Response:
    """Turns the app's ``send`` messages into an :class:`Exchange` response."""

    def __init__(self, exchange: Exchange) -> None:
        self._exchange = exchange
        self.status: int | None = None
        self._headers: list[tuple[str, str]] = []
        self._length: int | None = None
        self.done = asyncio.Event()

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            if self.status is not None:
                raise RuntimeError("http.response.start sent twice")
            self.status = int(message["status"])
            for raw_name, raw_value in message.get("headers", []):
                name, value = bytes(raw_name).decode("latin-1"), bytes(raw_value).decode("latin-1")
                check_header(name, value)
                if name.lower() == "content-length":
                    self._length = int(value)
                elif name.lower() not in {"transfer-encoding", "connection", "keep-alive"}:
                    self._headers.append((name, value))
        elif kind == "http.response.body":
            if self.status is None:
                raise RuntimeError("http.response.body before http.response.start")
            if self.done.is_set():
                return  # after the end, per spec, further body messages are ignored
            body = bytes(message.get("body", b""))
            more = bool(message.get("more_body", False))
            if not self._exchange.started:
                length = self._length if self._length is not None or more else len(body)
                await self._exchange.start(self.status, self._headers, length)
            await self._exchange.write(body)
            if not more:
                await self._exchange.finish()
                self.done.set()
        # Other messages (trailers, pathsend, websocket.*) are not offered in the scope.

    async def close(self) -> None:
        """The app returned: end a response it started but did not finish."""
        if self.status is not None and not self._exchange.started:
            await self._exchange.start(self.status, self._headers, self._length or 0)
        await self._exchange.finish()


class Lifespan:
    """The app's ``lifespan`` protocol, run as one task for the life of the shim."""

    def __init__(self, app: AsgiApp) -> None:
        self._app = app
        self._inbox: asyncio.Queue[Message] = asyncio.Queue()
        self._startup: asyncio.Future[bool] | None = None
        self._shutdown: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None

    async def startup(self) -> bool:
        """Run startup; ``False`` when the app does not speak lifespan.

        Raises:
            LifespanFailed: The app reported ``lifespan.startup.failed``.
        """
        loop = asyncio.get_running_loop()
        self._startup, self._shutdown = loop.create_future(), loop.create_future()
        self._task = asyncio.create_task(self._run())
        await self._inbox.put({"type": "lifespan.startup"})
        return await self._startup

    async def shutdown(self) -> None:
        """Run shutdown (a no-op when the app does not speak lifespan)."""
        if self._task is None or self._task.done() or self._shutdown is None:
            return
        await self._inbox.put({"type": "lifespan.shutdown"})
        try:
            await asyncio.wait_for(asyncio.shield(self._shutdown), timeout=10)
        except TimeoutError:
            log.warning("ASGI lifespan shutdown did not complete in 10 s")

    async def _run(self) -> None:
        assert self._startup is not None  # noqa: S101 - set by startup() before the task runs
        assert self._shutdown is not None  # noqa: S101
        scope: Message = {"type": "lifespan", "asgi": _ASGI, "state": self._app.state}
        try:
            await self._app.app(scope, self._inbox.get, self._send)
        except Exception as exc:
            if not self._startup.done():
                log.info("ASGI app does not support lifespan (%r); serving without it", exc)
                self._startup.set_result(False)
            else:
                log.exception("ASGI lifespan failed")
        if not self._startup.done():
            self._startup.set_result(False)
        if not self._shutdown.done():
            self._shutdown.set_result(None)

    async def _send(self, message: Message) -> None:
        assert self._startup is not None  # noqa: S101
        assert self._shutdown is not None  # noqa: S101
        kind = message["type"]
        if kind == "lifespan.startup.complete":
            self._startup.set_result(True)
        elif kind == "lifespan.startup.failed":
            self._startup.set_exception(LifespanFailed(message.get("message", "")))
        elif kind in {"lifespan.shutdown.complete", "lifespan.shutdown.failed"}:
            if kind.endswith("failed"):
                log.error("ASGI lifespan shutdown failed: %s", message.get("message", ""))
            self._shutdown.set_result(None)
