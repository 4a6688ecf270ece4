"""What a plain handler sees (:class:`Request`) and how its return value becomes a response."""

from __future__ import annotations

import json as jsonlib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import parse_qs, unquote

from .wire import FRAMING, check_header

Response = tuple[int, list[tuple[str, str]], bytes]


class BadRequest(ValueError):
    """The request is the Client's mistake: answered 400 with this message.

    ``Request.json()`` raises it on a malformed body; a handler may raise it too.
    """


class Headers(Mapping[str, str]):
    """Request headers, case-insensitive. A repeated header reads as its values joined by
    ``", "``; :meth:`get_all` gives them one by one, :attr:`raw` as received."""

    __slots__ = ("_values", "raw")

    def __init__(self, raw: Iterable[tuple[str, str]]) -> None:
        self.raw = list(raw)
        self._values: dict[str, list[str]] = {}
        for name, value in self.raw:
            self._values.setdefault(name.lower(), []).append(value)

    def __getitem__(self, name: str) -> str:
        return ", ".join(self._values[name.lower()])

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def get_all(self, name: str) -> list[str]:
        """Every value of header ``name``, in the order received (``[]`` when absent)."""
        return list(self._values.get(name.lower(), []))

    def __repr__(self) -> str:
        return f"Headers({self.raw!r})"


class Request:
    """One HTTP request, as a plain handler receives it.

    Attributes:
        method: ``GET``, ``POST`` …
        path: The percent-decoded path, e.g. ``/a b``.
        query: Each query parameter's *first* value (``?a=1&a=2`` → ``{"a": "1"}``).
        query_all: Every value of each query parameter (``{"a": ["1", "2"]}``).
        query_string: The raw query string, without ``?``.
        headers: Case-insensitive :class:`Headers`.
        body: The request body (bytes; ``b""`` when there is none).
        client: The peer's address (the router's, behind Fabio).

    Handlers written against a plain event dict may also read it as one:
    ``request["path"]``, ``request.get("query")``.
    """

    __slots__ = ("body", "client", "headers", "method", "path", "query", "query_all",
                 "query_string")  # fmt: skip
    _FIELDS = frozenset(__slots__)

    def __init__(
        self,
        method: str,
        raw_path: str,
        query_string: str,
        headers: Iterable[tuple[str, str]],
        body: bytes,
        *,
        client: str = "",
    ) -> None:
        self.method = method
        self.path = unquote(raw_path)
        self.query_string = query_string
        self.query_all = parse_qs(query_string, keep_blank_values=True)
        self.query = {name: values[0] for name, values in self.query_all.items()}
        self.headers = Headers(headers)
        self.body = body
        self.client = client

    @property
    def text(self) -> str:
        """The body decoded as UTF-8 (undecodable bytes replaced)."""
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON.

        Raises:
            BadRequest: The body is empty or not valid JSON (answered 400 if not caught).
        """
        if not self.body:
            raise BadRequest("request body is empty; JSON expected")
        try:
            return jsonlib.loads(self.body)
        except (UnicodeDecodeError, jsonlib.JSONDecodeError) as exc:
            raise BadRequest(f"request body is not valid JSON: {exc}") from None

    def __getitem__(self, key: str) -> Any:
        if key not in self._FIELDS:
            raise KeyError(key)
        return getattr(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        """``request[key]`` or ``default``: the dict-style view of the same fields."""
        return getattr(self, key) if key in self._FIELDS else default

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.path}>"


def to_response(result: object) -> Response:
    """The response a plain handler's return value stands for.

    ``str`` → text/plain, ``bytes`` → application/octet-stream, ``dict``/``list`` → JSON,
    ``None`` → 204, each 200 unless returned as ``(body, status)`` or
    ``(body, status, headers)`` (a mapping or a list of pairs; a ``Content-Type`` there wins;
    framing headers such as ``Content-Length`` are the shim's and are dropped).

    Raises:
        TypeError: The value is none of these (a handler bug: answered 500).
        ValueError: A status out of range or a header that would break the framing.
    """
    extra: list[tuple[str, str]] = []
    if isinstance(result, tuple):
        if len(result) not in (2, 3):
            raise TypeError("a handler returns (body, status) or (body, status, headers)")
        body, status = result[0], result[1]
        if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
            raise ValueError(f"handler returned status {status!r}; expected 100-599")
        if len(result) == 3:
            extra = _header_pairs(result[2])
    else:
        body, status = result, (204 if result is None else 200)
    content_type, payload = _encode(body)
    headers = [(k, v) for k, v in extra if k.lower() not in FRAMING]
    if content_type and not any(k.lower() == "content-type" for k, _ in headers):
        headers.insert(0, ("Content-Type", content_type))
    return status, headers, payload


def _encode(body: object) -> tuple[str, bytes]:
    if body is None:
        return "", b""
    if isinstance(body, str):
        return "text/plain; charset=utf-8", body.encode()
    if isinstance(body, bytes | bytearray | memoryview):
        return "application/octet-stream", bytes(body)
    if isinstance(body, dict | list):
        return "application/json", jsonlib.dumps(body, ensure_ascii=False).encode()
    raise TypeError(
        f"handler returned {type(body).__name__}; expected str, bytes, dict, list or None"
    )


def _header_pairs(headers: object) -> list[tuple[str, str]]:
    if isinstance(headers, Mapping):
        pairs = list(headers.items())
    elif isinstance(headers, list | tuple):
        pairs = [tuple(pair) for pair in headers]
    else:
        raise TypeError("response headers must be a mapping or a list of (name, value) pairs")
    result = []
    for pair in pairs:
        if len(pair) != 2:
            raise TypeError("response headers must be (name, value) pairs")
        name, value = str(pair[0]), str(pair[1])
        check_header(name, value)
        result.append((name, value))
    return result
