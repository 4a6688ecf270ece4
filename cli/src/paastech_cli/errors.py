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

from collections.abc import Mapping


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
