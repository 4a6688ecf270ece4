"""HTTP/1.1 on the wire: read a request head and body, write one response.

Only what a service behind a reverse proxy needs: origin-form targets, ``Content-Length`` or
``chunked`` request bodies, ``Expect: 100-continue``, keep-alive, and responses with a known
length, chunked, or (HTTP/1.0) ended by closing. A request that is ambiguous about where its
body ends (both ``Content-Length`` and ``Transfer-Encoding``, or differing lengths) is
refused rather than guessed at: that guess is how request smuggling starts.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus
from typing import Protocol

MAX_HEAD_BYTES = 64 * 1024
MAX_HEADERS = 100
_TOKEN = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_VERSIONS = {b"HTTP/1.1": "1.1", b"HTTP/1.0": "1.0"}
_NO_BODY = {204, 304}
# The shim frames responses itself; a handler's own framing headers would contradict it.
FRAMING = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive"})


class HttpError(Exception):
    """The request cannot be served; answer ``status`` and close the connection."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class RequestHead:
    """A parsed request line and header block."""

    method: str
    raw_path: str
    query_string: str
    http_version: str
    headers: list[tuple[str, str]]
    keep_alive: bool
    content_length: int | None
    chunked: bool
    expect_continue: bool


@dataclass(frozen=True)
class Call:
    """One request as the server hands it to an app: head, whole body, both addresses."""

    head: RequestHead
    body: bytes
    client: tuple[str, int] | None
    server: tuple[str, int] | None


class App(Protocol):
    """What the server runs for each request: answer ``call`` on ``exchange``."""

    async def __call__(self, call: Call, exchange: Exchange) -> None: ...


async def read_head(reader: asyncio.StreamReader) -> RequestHead | None:
    """The next request head, or ``None`` when the peer closed between requests.

    Raises:
        HttpError: Malformed or oversized head.
    """
    try:
        data = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial.strip():
            raise HttpError(400, "incomplete request head") from None
        return None
    except asyncio.LimitOverrunError:
        raise HttpError(431, "request head too large") from None
    return parse_head(data)


def parse_head(data: bytes) -> RequestHead:
    """Parse a request head (request line, headers, the empty line).

    Raises:
        HttpError: Malformed, unsupported version or framing, or too many headers.
    """
    lines = data.lstrip(b"\r\n").split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) != 3 or not _TOKEN.fullmatch(parts[0]):
        raise HttpError(400, "malformed request line")
    method, target, version = parts
    if version not in _VERSIONS:
        raise HttpError(505, "only HTTP/1.0 and HTTP/1.1 are served")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(b":")
        if not sep or not _TOKEN.fullmatch(name):
            raise HttpError(400, "malformed header line")
        headers.append((name.decode("ascii"), value.strip(b" \t").decode("latin-1")))
    if len(headers) > MAX_HEADERS:
        raise HttpError(431, "too many headers")
    raw_path, query_string = _split_target(target.decode("latin-1"), method)
    http_version = _VERSIONS[version]
    by_name: dict[str, list[str]] = {}
    for key, text in headers:
        by_name.setdefault(key.lower(), []).append(text)
    tokens = {t.strip().lower() for v in by_name.get("connection", []) for t in v.split(",")}
    keep_alive = "close" not in tokens and (http_version == "1.1" or "keep-alive" in tokens)
    encodings = by_name.get("transfer-encoding")
    lengths = by_name.get("content-length")
    if encodings is not None and lengths is not None:
        raise HttpError(400, "both Content-Length and Transfer-Encoding")
    chunked = False
    if encodings is not None:
        if [e.strip().lower() for e in ",".join(encodings).split(",")] != ["chunked"]:
            raise HttpError(501, "only the chunked transfer coding is accepted")
        chunked = True
    content_length = None
    if lengths is not None:
        values = {v.strip() for v in ",".join(lengths).split(",")}
        if len(values) != 1 or not next(iter(values)).isdigit():
            raise HttpError(400, "invalid Content-Length")
        content_length = int(values.pop())
    expect = by_name.get("expect", [""])[0].lower() == "100-continue"
    return RequestHead(
        method=method.decode("ascii"),
        raw_path=raw_path,
        query_string=query_string,
        http_version=http_version,
        headers=headers,
        keep_alive=keep_alive,
        content_length=content_length,
        chunked=chunked,
        expect_continue=expect and http_version == "1.1",
    )


def _split_target(target: str, method: bytes) -> tuple[str, str]:
    if target == "*" and method == b"OPTIONS":
        return "*", ""
    if target.startswith(("http://", "https://")):
        # absolute-form (a proxy may send it): keep the path and query only.
        slash = target.find("/", target.find("//") + 2)
        target = target[slash:] if slash != -1 else "/"
    if not target.startswith("/"):
        raise HttpError(400, "request target must be a path")
    path, _, query = target.partition("?")
    return path, query.partition("#")[0]


async def read_body(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: RequestHead, limit: int
) -> bytes:
    """The whole request body, at most ``limit`` bytes.

    Raises:
        HttpError: 413 over the limit (checked before reading when the length is declared),
            400 on a malformed chunked body or a peer gone mid-body.
    """
    if head.content_length is not None and head.content_length > limit:
        raise HttpError(413, f"request body over {limit} bytes")
    if head.expect_continue and (head.content_length or head.chunked):
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    try:
        if head.chunked:
            return await _read_chunked(reader, limit)
        if head.content_length:
            return await reader.readexactly(head.content_length)
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
        raise HttpError(400, "incomplete or malformed request body") from None
    return b""


async def _read_chunked(reader: asyncio.StreamReader, limit: int) -> bytes:
    body = bytearray()
    while True:
        size_line = (await reader.readuntil(b"\r\n"))[:-2]
        size = int(size_line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            break
        if len(body) + size > limit:
            raise HttpError(413, f"request body over {limit} bytes")
        body += await reader.readexactly(size)
        if await reader.readexactly(2) != b"\r\n":
            raise ValueError("chunk without CRLF")
    while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers: read and dropped
        pass
    return bytes(body)


_date_cache: tuple[int, bytes] = (0, b"")


def _date() -> bytes:
    global _date_cache  # noqa: PLW0603 - one formatted Date per second, shared by all
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, formatdate(now, usegmt=True).encode())
    return _date_cache[1]


def check_header(name: str, value: str) -> None:
    """Refuse a response header that would break the framing (CR/LF injection).

    Raises:
        ValueError: ``name`` is not a token or ``value`` holds CR, LF or NUL.
    """
    if not _TOKEN.fullmatch(name.encode("latin-1", "replace")):
        raise ValueError(f"invalid response header name {name!r}")
    if any(c in value for c in "\r\n\0"):
        raise ValueError(f"response header {name!r} holds a line break")


class Exchange:
    """One request's response on the connection: whole, streamed, or aborted."""

    def __init__(
        self,
        writer: asyncio.StreamWriter,
        head: RequestHead,
        *,
        should_close: Callable[[], bool],
    ) -> None:
        self._writer = writer
        self._head = head
        self._should_close = should_close
        self._chunked = False
        self._silent = head.method == "HEAD"
        self._head_bytes = b""
        self.status = 0
        self.started = False
        self.finished = False
        self.keep_alive = head.keep_alive

    async def respond(self, status: int, headers: Sequence[tuple[str, str]], body: bytes) -> None:
        """Send a complete response with its ``Content-Length``."""
        await self.start(status, headers, len(body))
        await self.write(body)
        await self.finish()

    async def start(
        self, status: int, headers: Sequence[tuple[str, str]], length: int | None
    ) -> None:
        """Send the status line and headers; ``length=None`` streams (chunked on 1.1)."""
        if self.started:
            raise RuntimeError("response already started")
        self.started = True
        self.status = status
        if self.keep_alive and self._should_close():
            self.keep_alive = False
        lines = [
            f"HTTP/1.1 {status} {_phrase(status)}".encode(),
            b"Date: " + _date(),
        ]
        lines += [f"{name}: {value}".encode("latin-1") for name, value in headers]
        if status in _NO_BODY or 100 <= status < 200:
            self._silent = True
        elif length is not None:
            lines.append(b"Content-Length: %d" % length)
        elif self._head.http_version == "1.1":
            self._chunked = True
            lines.append(b"Transfer-Encoding: chunked")
        else:
            self.keep_alive = False  # HTTP/1.0 without a length: the close ends the body
        if not self.keep_alive:
            lines.append(b"Connection: close")
        elif self._head.http_version == "1.0":
            lines.append(b"Connection: keep-alive")
        # Held until the first body bytes: head and a small body leave in one segment.
        self._head_bytes = b"\r\n".join(lines) + b"\r\n\r\n"

    async def write(self, data: bytes) -> None:
        """Send part of the body (nothing for HEAD, 204 or 304)."""
        if not data or self._silent:
            return
        if self._chunked:
            data = b"%x\r\n%s\r\n" % (len(data), data)
        self._writer.write(self._take_head() + data)
        await self._writer.drain()

    async def finish(self) -> None:
        """End the body (the last chunk when chunked)."""
        if self.finished:
            return
        self.finished = True
        end = b"0\r\n\r\n" if self._chunked and not self._silent else b""
        self._writer.write(self._take_head() + end)
        await self._writer.drain()

    def _take_head(self) -> bytes:
        head, self._head_bytes = self._head_bytes, b""
        return head

    def abort(self) -> None:
        """Drop the connection mid-response: the peer sees a truncated answer, not a wrong one."""
        self.keep_alive = False
        self.finished = True
        self._writer.transport.abort()


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Status"


def error_response(message: str) -> tuple[list[tuple[str, str]], bytes]:
    """Headers and body of a short plain-text error answer."""
    return [("Content-Type", "text/plain; charset=utf-8")], f"{message}\n".encode()
