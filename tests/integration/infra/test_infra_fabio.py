"""Fabio with the custom backend routes by Host header to what the route feed lists."""

from __future__ import annotations

import http.server
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from paastech.infra.fabio import ensure_fabio, route_def
from paastech.settings import load_settings

pytestmark = pytest.mark.integration


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


def _serve(handler: type[http.server.BaseHTTPRequestHandler]) -> tuple[_Server, int]:
    server = _Server(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, int(server.server_address[1])


@pytest.fixture
def backend() -> Iterator[int]:
    """A tiny app on 127.0.0.1 that says who it is and which Host it saw."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = f"backend saw {self.headers['Host']}".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server, port = _serve(Handler)
    yield port
    server.shutdown()
    server.server_close()


class RouteFeed:
    """The scheduler's role in miniature: serves a JSON route list at /routes."""

    def __init__(self, secret: str) -> None:
        self.routes: list[dict[str, Any]] = []
        self.queries: list[str] = []
        feed = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path, _, query = self.path.partition("?")
                feed.queries.append(query)
                if path != "/routes" or query != f"secret={secret}":
                    self.send_error(403)
                    return
                body = json.dumps(feed.routes).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server, self.port = _serve(Handler)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _get(url: str, host: str) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Host": host})  # noqa: S310 - loopback
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:  # noqa: S310
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, ""


def test_fabio_routes_host_header_from_route_feed(
    backend: int, fabio_binary: Path, tmp_path: Path
) -> None:
    """A route listed by the feed makes Fabio forward that Host to the backend; others 404."""
    feed = RouteFeed(secret="s3cret")
    feed.routes = [
        route_def("demo", "demo.apps.localhost/", f"http://127.0.0.1:{backend}/"),
    ]
    base = load_settings({}).fabio
    settings = msgspec.structs.replace(
        base,
        proxy_addr=f"127.0.0.1:{free_port()}",
        ui_addr=f"127.0.0.1:{free_port()}",
        route_feed_port=feed.port,
        route_feed_secret="s3cret",
        poll_interval="100ms",
    )
    running = ensure_fabio(tmp_path, settings, {"FABIO_BIN": str(fabio_binary)}, name="fabio-test")
    try:
        assert running.started_here
        proxy = f"http://{settings.proxy_addr}/"
        deadline = time.monotonic() + 20
        status, body = _get(proxy, "demo.apps.localhost")
        while status != 200 and time.monotonic() < deadline:
            time.sleep(0.1)
            status, body = _get(proxy, "demo.apps.localhost")

        assert (status, body) == (200, "backend saw demo.apps.localhost")
        assert _get(proxy, "other.apps.localhost")[0] == 404
        assert "secret=s3cret" in feed.queries
    finally:
        running.stop()
        feed.close()
