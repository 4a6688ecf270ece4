"""A function: the platform's shim calls handle() for every HTTP request."""

from typing import Any


def handle(request: dict[str, Any]) -> dict[str, Any]:
    """Greet whoever is named in the query string (``?name=...``)."""
    name = (request.get("query") or {}).get("name", "world")
    return {"status": 200, "body": f"Hello, {name}!\n"}
