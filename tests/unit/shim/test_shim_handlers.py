"""A plain handler's request and return conventions, as a Client's code meets them over HTTP."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from typing import Any

import httpx
import pytest
from shim_harness import Serve

from paastech.shim import BadRequest, Request


@pytest.mark.parametrize(
    ("returned", "expected"),
    [
        ("hi", (200, "text/plain; charset=utf-8", b"hi")),
        (b"\x00\x01", (200, "application/octet-stream", b"\x00\x01")),
        ({"a": 1}, (200, "application/json", b'{"a": 1}')),
        ([1, "é"], (200, "application/json", '[1, "é"]'.encode())),
        (("made", 201), (201, "text/plain; charset=utf-8", b"made")),
        (({"error": "no"}, 404), (404, "application/json", b'{"error": "no"}')),
        (("<p>x</p>", 200, {"content-type": "text/html"}), (200, "text/html", b"<p>x</p>")),
        ((b"", 202, [("X-Job", "7")]), (202, "application/octet-stream", b"")),
    ],
)
async def test_return_value_becomes_the_response(
    serve: Serve, client: httpx.AsyncClient, returned: object, expected: tuple[int, str, bytes]
) -> None:
    """Each documented return shape gives its status, content type and body."""
    status, content_type, body = expected
    async with serve(lambda request: returned) as running:
        response = await client.get(running.url + "/")

    assert response.status_code == status
    assert response.headers["content-type"] == content_type
    assert response.content == body
    assert response.headers["content-length"] == str(len(body))


async def test_returned_headers_are_sent_and_framing_stays_the_shims(
    serve: Serve, client: httpx.AsyncClient
) -> None:
    """Handler headers reach the Client; a wrong Content-Length from the handler cannot."""
    headers = {"X-Trace": "abc", "Content-Length": "999", "Set-Cookie": "a=1"}
    async with serve(lambda request: ("ok", 200, headers)) as running:
        response = await client.get(running.url + "/")

    assert response.headers["x-trace"] == "abc"
    assert response.headers["set-cookie"] == "a=1"
    assert response.headers["content-length"] == "2"


async def test_none_is_204_without_body(serve: Serve, client: httpx.AsyncClient) -> None:
    """A handler returning None answers 204 No Content."""
    async with serve(lambda request: None) as running:
        response = await client.post(running.url + "/", content=b"x")

    assert response.status_code == 204
    assert response.content == b""


async def test_request_carries_method_path_query_headers_body(
    serve: Serve, client: httpx.AsyncClient
) -> None:
    """The handler sees the decoded path, first-value query, every value, headers any case."""
    seen: dict[str, Any] = {}

    def handler(request: Request) -> str:
        seen.update(
            method=request.method,
            path=request.path,
            query=request.query,
            query_all=request.query_all,
            header=request.headers["x-custom"],
            header_upper=request.headers["X-CUSTOM"],
            repeated=request.headers.get_all("x-many"),
            body=request.body,
            text=request.text,
            as_dict=request.get("query"),
        )
        return "ok"

    async with serve(handler) as running:
        await client.request(
            "PUT",
            running.url + "/a%20b/c?name=Ann&name=Bob&empty=",
            content=b"payload",
            headers=[("X-Custom", "1"), ("X-Many", "a"), ("X-Many", "b")],
        )

    assert seen == {
        "method": "PUT",
        "path": "/a b/c",
        "query": {"name": "Ann", "empty": ""},
        "query_all": {"name": ["Ann", "Bob"], "empty": [""]},
        "header": "1",
        "header_upper": "1",
        "repeated": ["a", "b"],
        "body": b"payload",
        "text": "payload",
        "as_dict": {"name": "Ann", "empty": ""},
    }


async def test_json_body_is_parsed(serve: Serve, client: httpx.AsyncClient) -> None:
    """request.json() gives the posted document."""
    async with serve(lambda request: {"got": request.json()}) as running:
        response = await client.post(running.url + "/", json={"n": [1, 2]})

    assert response.json() == {"got": {"n": [1, 2]}}


async def test_malformed_json_is_the_clients_400(serve: Serve, client: httpx.AsyncClient) -> None:
    """A body that is not JSON answers 400 naming the problem, not a 500."""
    async with serve(lambda request: request.json()) as running:
        response = await client.post(running.url + "/", content=b"{nope")

    assert response.status_code == 400
    assert "not valid JSON" in response.text


async def test_handler_may_raise_bad_request(serve: Serve, client: httpx.AsyncClient) -> None:
    """BadRequest raised by the handler answers 400 with its message."""

    def handler(request: Request) -> str:
        raise BadRequest("name is required")

    async with serve(handler) as running:
        response = await client.get(running.url + "/")

    assert response.status_code == 400
    assert "name is required" in response.text


async def test_async_handler_is_awaited(serve: Serve, client: httpx.AsyncClient) -> None:
    """An async def handler runs on the loop and its result is the response."""

    async def handler(request: Request) -> dict[str, str]:
        await asyncio.sleep(0)
        return {"path": request.path}

    async with serve(handler) as running:
        response = await client.get(running.url + "/x")

    assert response.json() == {"path": "/x"}


async def test_sync_handlers_run_concurrently(serve: Serve, client: httpx.AsyncClient) -> None:
    """Two blocking handlers are in flight at once (a thread pool, not the event loop)."""
    barrier = threading.Barrier(2, timeout=5)

    def handler(request: Request) -> str:
        barrier.wait()  # BrokenBarrierError (→ 500) unless both run at the same time
        return "met"

    async with serve(handler) as running:
        first, second = await asyncio.gather(
            client.get(running.url + "/1"), client.get(running.url + "/2")
        )

    assert (first.text, second.text) == ("met", "met")


async def test_exception_is_500_with_traceback_in_logs_only(
    serve: Serve, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    """A failing handler answers a generic 500; the traceback is logged, never sent."""

    def handler(request: Request) -> str:
        raise RuntimeError("database password is hunter2")

    with caplog.at_level(logging.ERROR, logger="paastech_shim"):
        async with serve(handler) as running:
            response = await client.get(running.url + "/boom")

    assert response.status_code == 500
    assert "hunter2" not in response.text
    assert "Traceback" not in response.text
    assert "see the project's logs" in response.text
    assert "hunter2" in caplog.text
    assert caplog.records[0].exc_info is not None


@pytest.mark.parametrize(
    "returned",
    [object(), ("body",), ("x", 99), ("x", "200"), ("x", 200, {"X-Bad": "a\r\nInjected: 1"})],
)
async def test_unusable_return_value_is_500(
    serve: Serve, client: httpx.AsyncClient, returned: object
) -> None:
    """A return value outside the conventions (or a header injection) is a handler bug: 500."""
    async with serve(lambda request: returned) as running:
        response = await client.get(running.url + "/")

    assert response.status_code == 500
    assert "injected" not in response.headers


async def test_head_request_gets_headers_only(serve: Serve, client: httpx.AsyncClient) -> None:
    """HEAD answers the GET's status and length without a body."""
    async with serve(lambda request: "twelve chars") as running:
        response = await client.head(running.url + "/")

    assert response.status_code == 200
    assert response.headers["content-length"] == "12"
    assert response.content == b""


def test_request_reads_like_the_event_dict() -> None:
    """Handlers written against an event dict can index the request; unknown keys stay out."""
    request = Request("GET", "/p", "a=1", [("Host", "x")], b"")

    assert request["method"] == "GET"
    assert request.get("query") == {"a": "1"}
    assert request.get("nope", "default") == "default"
    with pytest.raises(KeyError):
        request["__class__"]
    assert json.loads(json.dumps(dict(request.headers))) == {"host": "x"}
