"""Start a shim on 127.0.0.1 port 0 in the test's own event loop; stopped (drained) after."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from paastech.shim.apps import make_app
from paastech.shim.config import ShimConfig
from paastech.shim.server import Shim


@dataclasses.dataclass
class Running:
    """A started shim: its base URL, control URL (when enabled) and the server itself."""

    shim: Shim
    url: str
    control_url: str | None


Serve = Callable[..., AbstractAsyncContextManager[Running]]


@asynccontextmanager
async def serving(handler: Any, **overrides: Any) -> AsyncIterator[Running]:
    """``async with serving(handler, **config) as running:`` — the handler on loopback."""
    config = dataclasses.replace(
        ShimConfig(handler="test:handler", host="127.0.0.1", port=0), **overrides
    )
    with ThreadPoolExecutor(4) as executor:
        app, _ = make_app(handler, config.handler_kind, executor)
        shim = Shim(config, app)
        await shim.start()
        task = asyncio.create_task(shim.serve())
        control = f"http://127.0.0.1:{shim.control_port}" if shim.control_port else None
        try:
            yield Running(shim, f"http://127.0.0.1:{shim.port}", control)
        finally:
            shim.stop()
            await task
