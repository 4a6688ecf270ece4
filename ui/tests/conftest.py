"""The dashboard under NiceGUI's simulated ``User``, talking to the in-memory FakeGateway.

The ``user`` fixture replaces the plugin's main-file one: it serves
:func:`paastech_ui.app.create_root` for a config whose transport is the fake's, so a test
can seed the fake, drive the pages and assert both what the user sees and what the gateway
got. The browser tests (``test_browser.py``) use real processes instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import NoReturn

import pytest
from fakes import PASSWORD, FakeGateway
from nicegui.testing import User, user_simulation
from paastech.infra.packages import ensure_packages

from paastech_ui.app import create_root
from paastech_ui.config import UiConfig

API = "http://gateway.test"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


@pytest.fixture
def gateway() -> FakeGateway:
    return FakeGateway()


@pytest.fixture
def config(gateway: FakeGateway) -> UiConfig:
    return UiConfig(api_url=API, transport=gateway.transport)


@pytest.fixture
async def user(config: UiConfig, caplog: pytest.LogCaptureFixture) -> AsyncIterator[User]:
    async with user_simulation(root=create_root(config)) as simulated:
        yield simulated
    errors = [r for r in caplog.get_records("call") if r.levelname == "ERROR"]
    if errors:
        pytest.fail(f"unexpected ERROR logs: {[r.getMessage() for r in errors]}", pytrace=False)


@pytest.fixture
def login(user: User, gateway: FakeGateway) -> Callable[..., Awaitable[str]]:
    """Log ``email`` in through the login form (the account is created in the fake)."""

    async def go(email: str = "ada@example.com") -> str:
        gateway.accounts[email] = PASSWORD
        await user.open("/login")
        user.find(marker="login-email").type(email)
        user.find(marker="login-password").type(PASSWORD)
        user.find(marker="login-submit").click()
        await user.should_see(marker="logout")
        return email

    return go


def require(component: str, reason: str) -> NoReturn:
    """A missing real component (Chromium, PostgreSQL) fails the test, never a skip."""
    pytest.fail(f"{component} unavailable: {reason}")


@pytest.fixture(scope="module")
def chromium() -> None:
    """Debian's chromium and chromium-driver (installed with apt when running as root)."""
    try:
        ensure_packages(["chromium", "chromium-driver"])
    except Exception as exc:
        require("chromium", str(exc))
    for path in (CHROMIUM, CHROMEDRIVER):
        if not Path(path).exists():
            require("chromium", f"{path} is missing after installing")
