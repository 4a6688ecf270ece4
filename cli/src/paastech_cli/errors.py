"""Errors the gateway client raises: one tree, mapped once from HTTP answers and transport errors.

    ApiError                    anything the client raises on purpose
    ├── BadRequest              400: the body was malformed
    ├── Unauthenticated         401: missing, bad or expired token
    ├── PermissionDenied        403
    ├── NotFound                404: no such thing, or not yours
    ├── Conflict                409: a duplicate, or a state that forbids the change
    ├── PayloadTooLarge         413
    ├── InvalidInput            422: ``fields`` names each wrong field
    ├── RateLimited             429: ``retry_after`` seconds
    ├── BackendUnavailable      502/503/504, or the gateway cannot be reached at all
    │   └── GatewayUnreachable  connection refused, DNS failure, timeout (``status`` is None)
    └── ProtocolError           the answer does not match the contract

Every error carries the HTTP ``status`` (None when there was no answer), the problem ``title``
and ``detail`` from the RFC 9457 body, and a one-line ``message`` fit for a terminal or a
toast. The CLI turns the class into an exit code; the dashboard into a notification.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator, Mapping
from typing import Any

import httpx
import msgspec

from paastech_cli.schemas import Problem


class ApiError(Exception):
    """Base of every error the gateway client raises on purpose."""

    default_title = "request failed"

    def __init__(
        self,
        detail: str = "",
        *,
        status: int | None = None,
        title: str = "",
        fields: Mapping[str, str] | None = None,
    ) -> None:
        self.status = status
        self.title = title or self.default_title
        self.detail = detail
        self.fields = dict(fields or {})
        super().__init__(self.message)

    @property
    def message(self) -> str:
        """One line: the detail (or title), then each offending field."""
        text = self.detail or self.title
        if self.fields:
            text += ": " + "; ".join(f"{name}: {why}" for name, why in self.fields.items())
        return " ".join(text.split())


class BadRequest(ApiError):
    default_title = "bad request"


class Unauthenticated(ApiError):
    default_title = "not authenticated"


class PermissionDenied(ApiError):
    default_title = "permission denied"


class NotFound(ApiError):
    default_title = "not found"


class Conflict(ApiError):
    default_title = "conflict"


class PayloadTooLarge(ApiError):
    default_title = "payload too large"


class InvalidInput(ApiError):
    default_title = "invalid input"


class RateLimited(ApiError):
    default_title = "too many requests"

    def __init__(
        self,
        detail: str = "",
        *,
        status: int | None = None,
        title: str = "",
        fields: Mapping[str, str] | None = None,
        retry_after: int | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(detail, status=status, title=title, fields=fields)

    @property
    def message(self) -> str:
        text = super().message
        if self.retry_after is not None:
            text += f" (retry in {self.retry_after} s)"
        return text


class BackendUnavailable(ApiError):
    default_title = "backend unavailable"


class GatewayUnreachable(BackendUnavailable):
    default_title = "gateway unreachable"


class ProtocolError(ApiError):
    default_title = "unexpected answer from the gateway"


BY_STATUS: Mapping[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthenticated,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    422: InvalidInput,
    429: RateLimited,
    502: BackendUnavailable,
    503: BackendUnavailable,
    504: BackendUnavailable,
}
"""The error class for an HTTP status; any other 4xx/5xx is a plain :class:`ApiError`."""


# -- mapping foreign errors, once ------------------------------------------------------------


@contextlib.contextmanager
def map_transport_errors(base_url: str) -> Iterator[None]:
    """Turn httpx transport failures into :class:`GatewayUnreachable` (the one place)."""
    try:
        yield
    except httpx.ConnectError as exc:
        raise GatewayUnreachable(f"cannot reach the gateway at {base_url}: {_reason(exc)}") from exc
    except httpx.TimeoutException as exc:
        raise GatewayUnreachable(f"the gateway at {base_url} did not answer in time") from exc
    except httpx.TransportError as exc:
        raise GatewayUnreachable(
            f"connection to the gateway at {base_url} failed: {_reason(exc)}"
        ) from exc


def _reason(exc: Exception) -> str:
    """The root cause in a few words: httpx wraps the OS error several layers deep."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, socket.gaierror):
            return "unknown host"
        cause = cause.__cause__ or cause.__context__
    return str(exc) or type(exc).__name__


def problem_error(response: httpx.Response) -> ApiError:
    """The typed error for a 4xx/5xx answer, read from its problem+json body when it has one."""
    problem = Problem()
    with contextlib.suppress(msgspec.DecodeError, msgspec.ValidationError):
        problem = msgspec.json.decode(response.content, type=Problem)
    status = response.status_code
    cls = BY_STATUS.get(status, ApiError)
    title = problem.title or response.reason_phrase.lower()
    fields = _fields(problem.errors) or _fields(problem.extra)
    if cls is RateLimited:
        retry = response.headers.get("retry-after", "")
        return RateLimited(
            problem.detail,
            status=status,
            title=title,
            fields=fields,
            retry_after=int(retry) if retry.isdigit() else None,
        )
    return cls(problem.detail, status=status, title=title, fields=fields)


def _fields(errors: Any) -> dict[str, str]:
    """Field → message from the problem's ``errors`` (a list of objects, or a mapping)."""
    if isinstance(errors, Mapping):
        return {str(k): _text(v) for k, v in errors.items()}
    found: dict[str, str] = {}
    if isinstance(errors, list):
        for item in errors:
            if not isinstance(item, Mapping):
                continue
            name = next(
                (item[k] for k in ("field", "key", "name", "loc", "pointer") if item.get(k)), "?"
            )
            if isinstance(name, list):
                name = ".".join(str(part) for part in name)
            why = next((item[k] for k in ("message", "detail", "msg") if item.get(k)), "invalid")
            found[str(name).lstrip("/")] = _text(why)
    return found


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)
