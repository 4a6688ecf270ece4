"""The function shim: the platform's HTTP server around a function Project's handler.

It is baked into the function image as the importable package ``paastech_shim`` (see
``paastech.infra.images``) and started by the generated Dockerfile as ``python -m
paastech_shim``. It runs inside the Client's image with nothing installed, so it is **stdlib
only** and uses relative imports only (it must work as ``paastech.shim`` and as
``paastech_shim``).

The contract with the handler (``PAASTECH_HANDLER="module:function"``, imported from the
working directory, ``/app`` in the image):

* A **plain handler** ``handle(request)`` (sync or ``async``) gets a :class:`Request`:
  ``method``, ``path`` (percent-decoded), ``query`` (``dict[str, str]``, the *first* value
  of each name; every value is in ``query_all``: ``dict[str, list[str]]``), ``headers``
  (case-insensitive mapping; a repeated header reads as its values joined by ``", "``),
  ``body`` (bytes), ``text`` and ``json()``. It returns ``str`` (200, text/plain),
  ``bytes`` (200, application/octet-stream), a ``dict``/``list`` (200, JSON), ``None``
  (204), or ``(body, status)`` / ``(body, status, headers)``. Sync handlers run in a thread
  pool, so a slow one does not stall the others.
* An **ASGI app** (an async callable taking ``(scope, receive, send)``: detected from its
  signature, or forced with ``PAASTECH_HANDLER_KIND=asgi``) is served as ASGI 3 (``http``
  scopes; ``lifespan`` when the app supports it).
* A handler exception answers 500 with a generic body; the traceback goes to stderr (the
  project's logs), never into the response. :class:`BadRequest` (raised by ``json()`` on a
  malformed body, or by the handler) answers 400 with its message.

Activity for the idler is served on a **separate control listener** (``$PAASTECH_CONTROL_PORT``,
off when unset): the router only ever routes to the service port, so Clients cannot reach it.
See :mod:`.server` for the endpoints and :mod:`.config` for every setting.
"""

from .request import BadRequest, Headers, Request

__all__ = ["BadRequest", "Headers", "Request"]
