"""Sign up, log in, log out, and what an expired or missing session does."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
from conftest import API
from fakes import PASSWORD, FakeGateway
from nicegui.testing import User, user_simulation
from support import eventually, field_error

from paastech_ui.app import create_root
from paastech_ui.config import UiConfig

Login = Callable[..., Awaitable[str]]


async def test_signup_logs_in_and_lands_on_projects(user: User, gateway: FakeGateway) -> None:
    """Signing up creates the account, logs in with it and shows the (empty) projects list."""
    await user.open("/signup")
    user.find(marker="signup-email").type("ada@example.com")
    user.find(marker="signup-password").type("long enough pw")
    user.find(marker="signup-repeat").type("long enough pw")
    user.find(marker="signup-submit").click()
    await user.should_see("No projects yet.")
    await user.should_see(marker="logout")
    await user.should_see("ada@example.com")
    assert gateway.accounts == {"ada@example.com": "long enough pw"}
    assert "POST /api/v1/auth/login" in gateway.paths()


async def test_signup_shows_the_gateways_field_error_inline(
    user: User, gateway: FakeGateway
) -> None:
    """A password the gateway refuses (422) is marked on the password field, no account made."""
    await user.open("/signup")
    user.find(marker="signup-email").type("ada@example.com")
    user.find(marker="signup-password").type("short")
    user.find(marker="signup-repeat").type("short")
    user.find(marker="signup-submit").click()
    await eventually(lambda: field_error(user, "signup-password"))
    assert field_error(user, "signup-password") == "at least 10 characters"
    assert gateway.accounts == {}


async def test_signup_refuses_differing_passwords(user: User, gateway: FakeGateway) -> None:
    """Two different passwords are caught before anything is sent."""
    await user.open("/signup")
    user.find(marker="signup-email").type("ada@example.com")
    user.find(marker="signup-password").type("long enough pw")
    user.find(marker="signup-repeat").type("long enough px")
    user.find(marker="signup-submit").click()
    await eventually(lambda: field_error(user, "signup-repeat"))
    assert field_error(user, "signup-repeat") == "The passwords differ"
    assert gateway.requests == []


async def test_wrong_password_is_a_notification(user: User, gateway: FakeGateway) -> None:
    """A refused login says so and stays logged out."""
    gateway.accounts["ada@example.com"] = PASSWORD
    await user.open("/login")
    user.find(marker="login-email").type("ada@example.com")
    user.find(marker="login-password").type("nope nope nope")
    user.find(marker="login-submit").click()
    await user.should_see("wrong email or password")
    await user.should_not_see(marker="logout")


async def test_pages_need_a_login(user: User) -> None:
    """Opening a page without a session lands on the login form."""
    await user.open("/keys")
    await user.should_see(marker="login-submit")


async def test_logout_revokes_the_token(user: User, gateway: FakeGateway, login: Login) -> None:
    """Logging out revokes the session at the gateway and shows the login links again."""
    await login()
    assert len(gateway.tokens) == 1
    user.find(marker="logout").click()
    await user.should_see(marker="login-submit")
    await user.should_see(marker="nav-signup")
    assert gateway.tokens == {}
    assert "POST /api/v1/auth/logout" in gateway.paths()


async def test_an_expired_session_asks_to_log_in_again(
    user: User, gateway: FakeGateway, login: Login
) -> None:
    """When the gateway no longer knows the token (401), the user is sent to log in."""
    await login()
    gateway.tokens.clear()
    user.navigate.to("/keys")
    await user.should_see("Your session has ended")
    await user.should_see(marker="login-submit")


async def test_the_token_never_reaches_the_page(
    user: User, gateway: FakeGateway, login: Login
) -> None:
    """The session token is not rendered anywhere in the page."""
    await login()
    token = next(iter(gateway.tokens))
    page = await user.http_client.get("/")
    assert page.status_code == 200
    assert token not in page.text
    await user.open("/tokens")
    await user.should_see(marker="token-list")
    await user.should_not_see(content=token)


async def test_throttled_login_says_when_to_retry(gateway: FakeGateway) -> None:
    """A 429 on login tells the user how long to wait (the gateway's Retry-After)."""

    def throttled(request: httpx.Request) -> httpx.Response:
        body = {"title": "too many requests", "status": 429, "detail": "too many failed logins"}
        headers = {"content-type": "application/problem+json", "retry-after": "42"}
        return httpx.Response(429, json=body, headers=headers)

    config = UiConfig(api_url=API, transport=httpx.MockTransport(throttled))
    async with user_simulation(root=create_root(config)) as user:
        await user.open("/login")
        user.find(marker="login-email").type("ada@example.com")
        user.find(marker="login-password").type(PASSWORD)
        user.find(marker="login-submit").click()
        await user.should_see("too many failed logins (retry in 42 s)")
        await user.should_not_see(marker="logout")
