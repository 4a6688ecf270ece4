"""The outermost ASGI layer: refuses requests no route should ever see.

- Header sections over ``gateway.max_header_bytes`` get a 431 before any parsing, so an
  8 MiB header costs one length sum, not a trip through routing, auth and the database.
  (uvicorn itself buffers what it reads; behind a proxy, cap headers there too.)
- A path carrying a control character (``%00``...) is a 404: no project, token or domain
  can be named that way, and PostgreSQL must not be asked (it cannot hold NUL in text).
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from paastech.gateway.schemas import Problem
from paastech.gateway.validation import FORBIDDEN_CHARS


def guard(max_header_bytes: int) -> Callable[[ASGIApp], ASGIApp]:
    """A Litestar middleware factory (``Litestar(middleware=[guard(n)])``)."""

    def middleware(app: ASGIApp) -> ASGIApp:
        async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == ScopeType.HTTP:
                size = sum(len(k) + len(v) + 4 for k, v in scope["headers"])
                if size > max_header_bytes:
                    await _refuse(send, 431, "request header fields too large")
                    return
                if FORBIDDEN_CHARS.search(scope["path"]):
                    await _refuse(send, 404, "not found")
                    return
            await app(scope, receive, send)

        return guarded

    return middleware


async def _refuse(send: Send, status: int, title: str) -> None:
    # Built by hand: this runs outside Litestar, before any of its machinery.
    body = msgspec.json.encode(Problem(title=title, status=status))
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", b"%d" % len(body)),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})
