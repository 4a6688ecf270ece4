"""Fixtures for the shim's unit tests: a loopback shim factory and an HTTP client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from shim_harness import Serve, serving


@pytest.fixture
def serve() -> Serve:
    """``async with serve(handler, **config) as running:`` — the handler served on loopback."""
    return serving


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client that never reads proxy settings from the environment (loopback only)."""
    async with httpx.AsyncClient(trust_env=False, timeout=10) as http:
        yield http
