"""The shim's HTTP/1.1: keep-alive, bodies in both framings, limits, refusals."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from shim_harness import Serve

from paastech.shim import Request
from paastech.shim.wire import HttpError, parse_head


def echo(request: Request) -> bytes:
    return request.body


async def exchange(port: int, raw: bytes, *, responses: int = 1) -> bytes:
    """Send ``raw`` on one connection and read until ``responses`` answers or the close."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(raw)
    await writer.drain()
    data = b""
    try:
        while data.count(b"HTTP/1.1 ") < responses or not _complete(data):
            chunk = await asyncio.wait_for(reader.read(65536), 5)
            if not chunk:
                break
            data += chunk
    finally:
        writer.close()
    return data


def _complete(data: bytes) -> bool:
    head, sep, body = data.rpartition(b"\r\n\r\n")
    length = next(
        (
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        ),
        0,
    )
    return bool(sep) and len(body) >= length


async def test_keep_alive_serves_several_requests_on_one_connection(serve: Serve) -> None:
    """Pipelined requests on one connection are all answered, in order, connection kept."""
    async with serve(lambda request: request.path) as running:
        raw = b"GET /one HTTP/1.1\r\nHost: x\r\n\r\nGET /two HTTP/1.1\r\nHost: x\r\n\r\n"
        data = await exchange(running.shim.port, raw, responses=2)

    assert data.count(b"HTTP/1.1 200 OK") == 2
    assert data.index(b"/one") < data.index(b"/two")
    assert b"Connection: close" not in data


async def test_http10_closes_after_the_answer(serve: Serve) -> None:
    """An HTTP/1.0 request without keep-alive gets Connection: close."""
    async with serve(lambda request: "x") as running:
        data = await exchange(running.shim.port, b"GET / HTTP/1.0\r\n\r\n")

    assert data.startswith(b"HTTP/1.1 200 OK")
    assert b"Connection: close" in data


async def test_chunked_request_body_is_reassembled(serve: Serve) -> None:
    """A chunked upload reaches the handler as one body."""
    async with serve(echo) as running:
        raw = (
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"
        )
        data = await exchange(running.shim.port, raw)

    assert data.endswith(b"\r\n\r\nhello world")


async def test_expect_continue_is_answered(serve: Serve) -> None:
    """A client waiting for 100 Continue gets it, then its answer."""
    async with serve(echo) as running:
        raw = b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok"
        data = await exchange(running.shim.port, raw, responses=2)

    assert data.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK")


async def test_body_over_the_limit_is_413(serve: Serve, client: httpx.AsyncClient) -> None:
    """A declared body over the limit is refused before the handler runs."""
    called = []
    async with serve(lambda request: called.append(1), max_body_bytes=1024) as running:
        small = await client.post(running.url + "/", content=b"x" * 1024)
        big = await client.post(running.url + "/", content=b"x" * 1025)

    assert small.status_code == 204
    assert big.status_code == 413
    assert big.headers["connection"] == "close"
    assert called == [1]


async def test_chunked_body_over_the_limit_is_413(serve: Serve) -> None:
    """A chunked body is counted as it arrives and refused once over the limit."""
    async with serve(echo, max_body_bytes=8) as running:
        raw = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n9\r\n123456789\r\n"
        data = await exchange(running.shim.port, raw)

    assert data.startswith(b"HTTP/1.1 413 ")


async def test_default_limit_is_ten_mebibytes(serve: Serve, client: httpx.AsyncClient) -> None:
    """Without a setting, 10 MiB passes and one byte more does not."""
    async with serve(lambda request: str(len(request.body))) as running:
        at_limit = await client.post(running.url + "/", content=b"x" * (10 * 1024 * 1024))
        over = await client.post(running.url + "/", content=b"x" * (10 * 1024 * 1024 + 1))

    assert at_limit.text == str(10 * 1024 * 1024)
    assert over.status_code == 413


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"GET / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
        (b"GET / HTTP/2.0\r\n\r\n", 505),
        (b"GET nopath HTTP/1.1\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\n folded: x\r\n\r\n", 400),
    ],
)
def test_ambiguous_or_malformed_heads_are_refused(raw: bytes, status: int) -> None:
    """Heads that leave the body's end ambiguous (smuggling) or break the grammar are refused."""
    with pytest.raises(HttpError) as caught:
        parse_head(raw)
    assert caught.value.status == status


def test_absolute_form_target_keeps_path_and_query() -> None:
    """A proxy's absolute-form target is served as its path and query."""
    head = parse_head(b"GET http://app.example/a/b?c=d HTTP/1.1\r\nHost: app.example\r\n\r\n")
    assert (head.raw_path, head.query_string) == ("/a/b", "c=d")


async def test_malformed_request_gets_400_on_the_wire(serve: Serve) -> None:
    """A malformed request is answered 400 and the connection closed."""
    async with serve(lambda request: "x") as running:
        data = await exchange(running.shim.port, b"NOT HTTP\r\n\r\n")

    assert data.startswith(b"HTTP/1.1 400 ")
    assert b"Connection: close" in data


async def test_oversized_head_is_431(serve: Serve) -> None:
    """A header block over 64 KiB is refused instead of buffered."""
    async with serve(lambda request: "x") as running:
        raw = b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n"
        data = await exchange(running.shim.port, raw)

    assert data.startswith(b"HTTP/1.1 431 ")
