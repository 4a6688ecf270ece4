"""The shim's two listeners, its activity counters, and the graceful stop.

**Service listener** (``$HOST:$PORT``): HTTP/1.1 with keep-alive, one request at a time per
connection, each handed to the :class:`~.wire.App`.

**Control listener** (``$HOST:$PAASTECH_CONTROL_PORT``, off when the variable is unset): the
router only routes to the service port, so a Client cannot reach it, and its requests are
never counted as activity. ``GET /status`` answers JSON::

    {"in_flight": 0, "requests_total": 12, "last_request_at": 1764417600.5,
     "idle_seconds": 3.2, "started_at": 1764417590.1, "draining": false}

``last_request_at`` is the wall-clock time (Unix seconds) a request last started or ended
(``null`` before the first); ``idle_seconds`` is 0 while a request is in flight, else the time
since then (since start before the first request). ``requests_total`` only grows: two
snapshots with the same total saw no request in between. ``GET /healthz`` answers 200, or
503 once draining, without touching the handler (so health checks keep a function idle).

**SIGTERM** (and SIGINT): stop accepting on the service port, close idle keep-alive
connections, let in-flight requests finish (answered with ``Connection: close``) while the
control listener keeps reporting (``draining: true``, ``/healthz`` 503), run ASGI lifespan
shutdown, exit 0.
Requests still running after ``PAASTECH_DRAIN_TIMEOUT`` are abandoned and the exit is 1.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from .apps import HandlerLoadError, load_handler, make_app
from .asgi import AsgiApp, Lifespan, LifespanFailed
from .config import ConfigError, ShimConfig, load_config
from .wire import (
    MAX_HEAD_BYTES,
    App,
    Call,
    Exchange,
    HttpError,
    RequestHead,
    error_response,
    read_body,
)
from .wire import read_head as _read_head

log = logging.getLogger("paastech_shim")
LINGER_SECONDS = 2.0
LINGER_BYTES = 64 * 1024 * 1024


@dataclass
class Stats:
    """Activity the idler reads: what is running now and when anything last ran."""

    started_at: float = field(default_factory=time.time)
    in_flight: int = 0
    requests_total: int = 0
    last_request_at: float | None = None

    def begin(self) -> None:
        self.in_flight += 1
        self.requests_total += 1
        self.last_request_at = time.time()

    def end(self) -> None:
        self.in_flight -= 1
        self.last_request_at = time.time()

    def snapshot(self, draining: bool) -> dict[str, Any]:
        """The ``/status`` document."""
        now = time.time()
        since = self.last_request_at if self.last_request_at is not None else self.started_at
        return {
            "in_flight": self.in_flight,
            "requests_total": self.requests_total,
            "last_request_at": self.last_request_at,
            "idle_seconds": 0.0 if self.in_flight else round(max(0.0, now - since), 3),
            "started_at": self.started_at,
            "draining": draining,
        }


class Shim:
    """One running shim: call :meth:`start`, then :meth:`serve` until :meth:`stop`."""

    def __init__(self, config: ShimConfig, app: App) -> None:
        self.config = config
        self.app = app
        self.stats = Stats()
        self.draining = False
        self.port = 0
        self.control_port: int | None = None
        self._servers: list[asyncio.Server] = []
        self._idle: set[asyncio.StreamWriter] = set()
        self._idle_now = asyncio.Event()
        self._stop = asyncio.Event()

    async def start(self) -> None:
        """Bind the listeners (port 0 picks a free one: read :attr:`port` after)."""
        service = await asyncio.start_server(
            self._connection, self.config.host, self.config.port, limit=MAX_HEAD_BYTES
        )
        self._servers.append(service)
        self.port = service.sockets[0].getsockname()[1]
        if self.config.control_port is not None:
            control = await asyncio.start_server(
                self._control, self.config.host, self.config.control_port, limit=MAX_HEAD_BYTES
            )
            self._servers.append(control)
            self.control_port = control.sockets[0].getsockname()[1]

    def stop(self) -> None:
        """Begin the graceful stop (safe to call more than once; from the loop's thread)."""
        self._stop.set()

    async def serve(self) -> bool:
        """Serve until :meth:`stop`, then drain. ``False`` when the drain timed out."""
        await self._stop.wait()
        self.draining = True
        self._servers[0].close()  # the service port; control stays up to report the drain
        for writer in list(self._idle):
            writer.close()
        drained = True
        if self.stats.in_flight:
            self._idle_now.clear()
            try:
                await asyncio.wait_for(self._idle_now.wait(), self.config.drain_timeout)
            except TimeoutError:
                drained = False
                log.error(  # noqa: TRY400 - a timeout, not an error with a useful traceback
                    "drain timed out with %d request(s) in flight", self.stats.in_flight
                )
        for server in self._servers[1:]:
            server.close()
        return drained

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = _address(writer.get_extra_info("peername"))
        sock = _address(writer.get_extra_info("sockname"))
        try:
            while not self.draining:
                self._idle.add(writer)
                try:
                    head = await asyncio.wait_for(
                        _read_head(reader), self.config.keep_alive_timeout
                    )
                except (TimeoutError, ConnectionError):
                    return
                except HttpError as exc:
                    await _refuse(writer, exc)
                    await _linger(reader, writer)
                    return
                finally:
                    self._idle.discard(writer)
                if head is None:
                    return
                exchange = Exchange(writer, head, should_close=lambda: self.draining)
                self.stats.begin()
                try:
                    await self._answer(reader, writer, head, exchange, peer=peer, sock=sock)
                finally:
                    self.stats.end()
                    if not self.stats.in_flight:
                        self._idle_now.set()
                if not exchange.keep_alive:
                    return
        except ConnectionError:
            return
        except Exception:  # the shim's own bug: log it, drop this connection, keep serving
            log.exception("internal error on a connection from %s", peer)
            writer.transport.abort()
        finally:
            writer.close()

    async def _answer(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        head: RequestHead,
        exchange: Exchange,
        *,
        peer: tuple[str, int] | None,
        sock: tuple[str, int] | None,
    ) -> None:
        try:
            body = await read_body(reader, writer, head, self.config.max_body_bytes)
        except HttpError as exc:
            exchange.keep_alive = False  # the rest of the body is still on the wire
            headers, text = error_response(exc.message)
            await exchange.respond(exc.status, headers, text)
            await _linger(reader, writer)
            return
        await self.app(Call(head, body, peer, sock), exchange)

    async def _control(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(_read_head(reader), 10)
            if head is None:
                return
            exchange = Exchange(writer, head, should_close=lambda: True)
            document: dict[str, Any]
            if head.method not in {"GET", "HEAD"}:
                status, document = 405, {"error": "GET only"}
            elif head.raw_path == "/status":
                status, document = 200, self.stats.snapshot(self.draining)
            elif head.raw_path == "/healthz":
                status, document = (503, {"ok": False}) if self.draining else (200, {"ok": True})
            else:
                status, document = 404, {"error": "GET /status or /healthz"}
            body = json.dumps(document).encode()
            await exchange.respond(status, [("Content-Type", "application/json")], body)
        except (HttpError, TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()


async def _refuse(writer: asyncio.StreamWriter, exc: HttpError) -> None:
    headers, body = error_response(exc.message)
    lines = [f"HTTP/1.1 {exc.status} Error", "Connection: close", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    await writer.drain()


async def _linger(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Half-close, then discard what the client is still sending, for a little while.

    Closing with unread bytes makes the kernel reset the connection, and a client still
    uploading would see the reset instead of the 413 it was sent.
    """
    if writer.can_write_eof():
        writer.write_eof()
    deadline = asyncio.get_running_loop().time() + LINGER_SECONDS
    discarded = 0
    try:
        while discarded < LINGER_BYTES:
            left = deadline - asyncio.get_running_loop().time()
            chunk = await asyncio.wait_for(reader.read(65536), max(left, 0))
            if not chunk:
                return
            discarded += len(chunk)
    except (TimeoutError, ConnectionError):
        return


def _address(value: object) -> tuple[str, int] | None:
    if isinstance(value, tuple) and len(value) >= 2:
        return str(value[0]), int(value[1])
    return None


async def run(config: ShimConfig, handler: Any) -> int:
    """Serve ``handler`` until SIGTERM/SIGINT; the process exit code."""
    executor = ThreadPoolExecutor(config.threads, thread_name_prefix="handler")
    app, kind = make_app(handler, config.handler_kind, executor)
    lifespan = Lifespan(app) if isinstance(app, AsgiApp) else None
    try:
        if lifespan is not None:
            await lifespan.startup()
    except LifespanFailed as exc:
        log.error("ASGI lifespan startup failed: %s", exc)  # noqa: TRY400 - the app's own reason
        return 1
    shim = Shim(config, app)
    await shim.start()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, shim.stop)
    control = f", control on port {shim.control_port}" if shim.control_port else ""
    log.info(
        "serving %s (%s) on http://%s:%d%s", config.handler, kind, config.host, shim.port, control
    )
    drained = await shim.serve()
    if lifespan is not None:
        await lifespan.shutdown()
    log.info("stopped after %d request(s)", shim.stats.requests_total)
    executor.shutdown(wait=drained, cancel_futures=True)
    return 0 if drained else 1


def main(environ: dict[str, str]) -> int:
    """``python -m paastech_shim``: load the handler from the working directory and serve."""
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="paastech-shim: %(levelname)s %(message)s"
    )
    try:
        config = load_config(environ)
    except ConfigError as exc:
        log.error("%s", exc)  # noqa: TRY400 - the message is the whole story
        return 2
    try:
        handler = load_handler(config.handler, os.getcwd())
    except HandlerLoadError:
        log.exception("cannot load the handler")  # with the import's own traceback
        return 2
    code = asyncio.run(run(config, handler))
    sys.stdout.flush()
    sys.stderr.flush()
    if code:
        os._exit(code)  # handler threads still running would block a normal exit
    return code
