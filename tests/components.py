"""The rule for real components in tests: a missing one is a test failure, never a skip."""

from __future__ import annotations

from typing import NoReturn

import pytest


def require(component: str, reason: str) -> NoReturn:
    """Fail the test because ``component`` cannot be provided, saying why.

    Integration and end-to-end tests run against the real thing or not at all: a skip would
    turn a broken machine into a green run.
    """
    pytest.fail(f"{component} unavailable: {reason}")
