"""A function: the platform's shim calls handle() for every HTTP request.

The request has ``method``, ``path``, ``query`` (first value of each name), ``headers``,
``body`` (bytes) and ``json()``. Return a ``str`` (text), ``bytes``, a ``dict``/``list``
(JSON), or ``(body, status)`` / ``(body, status, headers)``.
"""

from __future__ import annotations

from typing import Any


def handle(request: Any) -> str | tuple[dict[str, Any], int]:
    """Greet whoever is named in the query string; echo JSON sent with POST."""
    if request.method == "POST":
        return {"received": request.json()}, 201
    return f"Hello, {request.query.get('name', 'world')}!\n"
