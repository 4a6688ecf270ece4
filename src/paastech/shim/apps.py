"""Load the handler and serve it: as a plain handler, or as an ASGI app (see :mod:`.asgi`).

Which one is decided once, at start: ``PAASTECH_HANDLER_KIND`` when it says ``plain`` or
``asgi``, else the signature. An ASGI app is an ``async`` callable (function, or object
with an ``async def __call__``) taking three positional parameters ``(scope, receive,
send)``; a plain handler takes one. The signature is a sure tell for every framework that
follows ASGI 3 (Starlette, FastAPI, Litestar, Quart, Django's ``ASGIHandler``); the variable
covers the rest (a sync wrapper around an ASGI app, say).
"""

from __future__ import annotations

import asyncio
import contextvars
import importlib
import inspect
import logging
import sys
from concurrent.futures import Executor
from typing import Any

from .asgi import AsgiApp
from .request import BadRequest, Request, to_response
from .wire import App, Call, Exchange, error_response

log = logging.getLogger("paastech_shim")
GENERIC_500 = "Internal Server Error: the function failed; see the project's logs"


class HandlerLoadError(Exception):
    """``PAASTECH_HANDLER`` does not name a callable that can be imported."""


def load_handler(spec: str, app_dir: str) -> Any:
    """Import ``module:attr.path`` with ``app_dir`` first on ``sys.path``.

    Raises:
        HandlerLoadError: Unknown module or attribute, an import that failed, not callable.
    """
    module_name, _, attr_path = spec.partition(":")
    if not module_name or not attr_path:
        raise HandlerLoadError(f'handler {spec!r} is not "module:function"')
    if app_dir not in sys.path:
        sys.path.insert(0, app_dir)
    try:
        target: Any = importlib.import_module(module_name)
    except Exception as exc:  # the Client's module: any error is theirs to read
        raise HandlerLoadError(f"cannot import {module_name!r}: {exc!r}") from exc
    for attr in attr_path.split("."):
        try:
            target = getattr(target, attr)
        except AttributeError:
            raise HandlerLoadError(f"{module_name!r} has no attribute {attr_path!r}") from None
    if not callable(target):
        raise HandlerLoadError(f"{spec!r} is a {type(target).__name__}, not a callable")
    return target


def is_asgi(handler: Any) -> bool:
    """Whether ``handler`` looks like an ASGI 3 app (async, ``(scope, receive, send)``)."""
    call = handler if inspect.isroutine(handler) else getattr(handler, "__call__", None)  # noqa: B004 - the bound __call__ is what gets awaited
    if not inspect.iscoroutinefunction(call):
        return False
    try:
        params = inspect.signature(handler).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) == 3


def make_app(handler: Any, kind: str, executor: Executor) -> tuple[App, str]:
    """The :class:`App` serving ``handler`` and the kind chosen (``plain`` or ``asgi``)."""
    if kind == "asgi" or (kind == "auto" and is_asgi(handler)):
        return AsgiApp(handler), "asgi"
    return PlainApp(handler, executor), "plain"


class PlainApp:
    """A ``handle(request)`` function: sync ones in the thread pool, async ones on the loop."""

    def __init__(self, handler: Any, executor: Executor) -> None:
        self._handler = handler
        self._executor = executor
        self._is_async = inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(
            getattr(handler, "__call__", None)  # noqa: B004 - an object with async __call__
        )

    async def __call__(self, call: Call, exchange: Exchange) -> None:
        head = call.head
        request = Request(
            head.method,
            head.raw_path,
            head.query_string,
            head.headers,
            call.body,
            client=call.client[0] if call.client else "",
        )
        try:
            result = await self._run(request)
            if inspect.isawaitable(result):  # a sync callable that returned a coroutine
                result = await result
            status, headers, body = to_response(result)
        except BadRequest as exc:
            headers, body = error_response(f"Bad Request: {exc}")
            await exchange.respond(400, headers, body)
            return
        except Exception:
            log.exception("handler failed on %s %s", head.method, head.raw_path)
            headers, body = error_response(GENERIC_500)
            await exchange.respond(500, headers, body)
            return
        await exchange.respond(status, headers, body)

    async def _run(self, request: Request) -> Any:
        if self._is_async:
            return await self._handler(request)
        context = contextvars.copy_context()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, context.run, self._handler, request)
