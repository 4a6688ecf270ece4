"""Small helpers for the simulated-User tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from nicegui import ui
from nicegui.testing import User


async def eventually(check: Callable[[], object], *, seconds: float = 3.0) -> None:
    """Wait until ``check()`` is truthy (event handlers run as tasks), else fail."""
    for _ in range(int(seconds / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    assert check(), "condition not met in time"


def field_error(user: User, marker: str) -> str | None:
    """The error message shown on the input with ``marker`` (None when it shows none)."""
    element = next(iter(user.find(marker=marker).elements))
    assert isinstance(element, ui.input | ui.number | ui.textarea)
    return element.error
