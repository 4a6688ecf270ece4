"""Every error the gateway answers, rendered in one place as RFC 9457 problem+json.

Domain errors (:mod:`paastech.errors`) and Litestar's own HTTP exceptions map to a status
here and nowhere else. Bodies name fields and say what is wrong, never echo values: a
password, token or env value must not reach a log line or an error body.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import asyncpg
import msgspec
from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    SerializationException,
    ValidationException,
)
from litestar.openapi.datastructures import ResponseSpec
from litestar.types import ExceptionHandlersMap

from paastech import errors
from paastech.gateway.schemas import Problem
from paastech.gateway.validation import PATTERN_HINTS

log = logging.getLogger("paastech.gateway")

PROBLEM_JSON = "application/problem+json"

_STATUS: list[tuple[type[errors.PaasTechError], int]] = [
    (errors.NotFound, 404),
    (errors.Conflict, 409),
    (errors.InvalidInput, 422),
    (errors.Unauthenticated, 401),
    (errors.PermissionDenied, 403),
    (errors.RateLimited, 429),
    (errors.PayloadTooLarge, 413),
    (errors.BackendUnavailable, 503),
    (errors.BackendError, 502),
]
_BACKTICKED = re.compile(r"`([^`]+)`")
_HTTP_TITLES = {
    400: "bad request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not found",
    405: "method not allowed",
    409: "conflict",
    413: "payload too large",
    415: "unsupported media type",
    422: "invalid input",
    429: "too many requests",
    431: "request header fields too large",
    500: "internal server error",
    503: "backend unavailable",
}


def problem(
    status: int,
    title: str,
    detail: str = "",
    *,
    instance: str = "",
    fields: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[bytes]:
    """A problem+json response."""
    body = Problem(
        title=title, status=status, detail=detail, instance=instance, errors=fields or {}
    )
    return Response(
        content=msgspec.json.encode(body),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


def _domain(request: Request[Any, Any, Any], exc: errors.PaasTechError) -> Response[bytes]:
    status = next((code for kind, code in _STATUS if isinstance(exc, kind)), 500)
    headers: dict[str, str] = {}
    fields: dict[str, str] = {}
    if isinstance(exc, errors.Unauthenticated):
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, errors.RateLimited):
        headers["Retry-After"] = str(max(1, exc.retry_after))
    if isinstance(exc, errors.InvalidInput):
        fields = exc.fields
    if status == 500:
        # A domain error without a client-facing status is a server fault (bad settings,
        # undecryptable data): log it, answer without internals.
        log.error("unmapped domain error on %s %s: %s", request.method, request.url.path, exc)
        return problem(500, "internal server error", instance=request.url.path)
    return problem(
        status, exc.title, exc.message, instance=request.url.path, fields=fields, headers=headers
    )


def _validation_fields(extra: Any) -> tuple[dict[str, str], bool]:
    """(field → message, body missing?) from Litestar's ValidationException ``extra``."""
    fields: dict[str, str] = {}
    missing_body = False
    for item in extra if isinstance(extra, list) else []:
        if not isinstance(item, dict):
            continue
        key = str(item.get("key", "")) or "body"
        message = str(item.get("message", "invalid"))
        if key == "data":
            if message == "'data'":
                missing_body = True
                continue
            named = _BACKTICKED.findall(message)
            if "unknown field" in message and named:
                fields[named[0]] = "unknown field"
                continue
            if "missing required field" in message and named:
                fields[named[0]] = "required"
                continue
            key = "body"
        if "matching regex" in message and key in PATTERN_HINTS:
            message = PATTERN_HINTS[key]
        fields[key] = message.replace("`", "")
    return fields, missing_body


def _http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    path = request.url.path
    if isinstance(exc, ValidationException):
        fields, missing_body = _validation_fields(exc.extra)
        if missing_body and not fields:
            return problem(400, "bad request", "a JSON request body is required", instance=path)
        return problem(422, "invalid input", "invalid fields", instance=path, fields=fields)
    if isinstance(exc.__cause__, SerializationException | msgspec.DecodeError):
        return problem(400, "bad request", "the request body is not valid JSON", instance=path)
    status = exc.status_code
    title = _HTTP_TITLES.get(status, "error")
    detail = exc.detail if status < 500 and isinstance(exc.detail, str) else ""
    headers = dict(exc.headers or {})
    if status == 413:
        detail = "the request body is over the size limit"
    if status >= 500:
        log.error("HTTP %s on %s %s: %s", status, request.method, path, exc)
    return problem(status, title, detail, instance=path, headers=headers)


def _database_down(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    # The pool lost PostgreSQL mid-request: a backend outage (503), not a server bug (500).
    log.error("database unavailable on %s %s: %s", request.method, request.url.path, exc)
    return problem(
        503, "database unavailable", "the database cannot be reached", instance=request.url.path
    )


def _data_error(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    # A value PostgreSQL refused (out of range, malformed, too long) that validation should
    # have caught first: the caller's input is wrong (422); logged so the gap gets closed.
    log.warning("database refused a value on %s %s: %s", request.method, request.url.path, exc)
    return problem(
        422,
        "invalid input",
        "a value is malformed, too long or out of range",
        instance=request.url.path,
    )


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    # The one catch-all edge: log with traceback (no request body is ever logged), answer
    # a generic 500 that carries no internals.
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(500, "internal server error", instance=request.url.path)


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    errors.PaasTechError: _domain,
    HTTPException: _http,
    asyncpg.PostgresConnectionError: _database_down,
    asyncpg.InterfaceError: _database_down,
    asyncpg.exceptions.OperatorInterventionError: _database_down,  # server shutdown / kill
    asyncpg.exceptions.InternalClientError: _database_down,  # a connection killed mid-use
    ConnectionError: _database_down,
    # Connect, command and pool-acquire timeouts (db.*_timeout_seconds): PostgreSQL is not
    # answering in time, which the caller should see as the outage it is.
    TimeoutError: _database_down,
    asyncpg.exceptions.QueryCanceledError: _database_down,
    asyncpg.exceptions.DataError: _data_error,
    Exception: _unexpected,
}


_DESCRIPTIONS = {
    400: "Malformed JSON or missing body",
    401: "Missing, invalid, revoked or expired token",
    404: "No such thing, or not the caller's",
    409: "Duplicate or conflicting state",
    413: "Request body over the limit",
    422: "Invalid fields, each one named in `errors`",
    429: "Too many attempts (see Retry-After)",
    431: "Request headers over the limit",
    503: "A backend the operation needs (scheduler, forge) is unavailable",
}


def responses(*codes: int) -> dict[int, Any]:
    """OpenAPI entries documenting the problem+json answers a route can give."""
    return {
        code: ResponseSpec(
            data_container=Problem,
            description=_DESCRIPTIONS.get(code, "Problem"),
            media_type=PROBLEM_JSON,
        )
        for code in codes
    }
