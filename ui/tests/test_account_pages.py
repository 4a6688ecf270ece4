"""SSH keys, API tokens, the audit trail, the account page, and an unreachable gateway."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from fakes import PASSWORD, FakeGateway
from nicegui import ui
from nicegui.testing import User, user_simulation
from support import eventually, field_error

from paastech_ui.app import create_root
from paastech_ui.config import UiConfig

Login = Callable[..., Awaitable[str]]
PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOr5Yk2mQhZ7x ada@laptop"


async def test_keys_add_list_remove(user: User, gateway: FakeGateway, login: Login) -> None:
    """A key is added (name and public key), listed with its fingerprint, then removed."""
    await login()
    await user.open("/keys")
    await user.should_see(marker="key-add")
    user.find(marker="key-name").type("laptop")
    user.find(marker="key-public").type(PUBLIC_KEY)
    user.find(marker="key-add").click()
    await user.should_see(marker="key-list")
    await user.should_see("SHA256:")
    assert [k["name"] for k in gateway.keys.values()] == ["laptop"]
    user.find(marker="key-remove-laptop").click()
    user.find(marker="confirm-ok").click()
    await user.should_see("No keys yet")
    assert gateway.keys == {}


async def test_a_bad_key_is_marked(user: User, gateway: FakeGateway, login: Login) -> None:
    """A public key the gateway refuses (422) is explained on the key field."""
    await login()
    await user.open("/keys")
    await user.should_see(marker="key-add")
    user.find(marker="key-name").type("bad")
    user.find(marker="key-public").type("ssh-dss AAAA")
    user.find(marker="key-add").click()
    await eventually(lambda: field_error(user, "key-public"))
    assert "ed25519" in (field_error(user, "key-public") or "")


async def test_new_token_is_shown_once(user: User, gateway: FakeGateway, login: Login) -> None:
    """Creating a token shows its secret in a dialog once; it is listed and can be revoked."""
    await login()
    await user.open("/tokens")
    await user.should_see(marker="token-create")
    user.find(marker="token-name").type("ci")
    user.find(marker="token-create").click()
    await user.should_see(marker="new-token")
    secret = next(s for s, t in gateway.tokens.items() if t["name"] == "ci")
    await user.should_see(secret)
    user.find(marker="token-done").click()
    await user.should_see(marker="token-revoke-ci")
    await user.open("/tokens")
    await user.should_see(marker="token-revoke-ci")
    await user.should_not_see(secret)
    user.find(marker="token-revoke-ci").click()
    user.find(marker="confirm-ok").click()
    await user.should_not_see(marker="token-revoke-ci")
    assert all(t["name"] != "ci" for t in gateway.tokens.values())


async def test_audit_lists_own_events(user: User, gateway: FakeGateway, login: Login) -> None:
    """The audit page shows what the account did, with target and source address."""
    await login()
    await user.open("/new")
    user.find(marker="project-name").type("shop")
    user.find(marker="create-project").click()
    await user.should_see(marker="project-title")
    await user.open("/audit")
    await user.should_see(marker="audit")
    table = next(iter(user.find(marker="audit").elements))
    assert isinstance(table, ui.table)
    await eventually(lambda: table.rows)
    assert [(r["action"], r["target"], r["ip"]) for r in table.rows] == [
        ("project.create", "shop", "127.0.0.1")
    ]


async def test_account_page(user: User, login: Login) -> None:
    """The account page says who is logged in."""
    await login("grace@example.com")
    await user.open("/account")
    await user.should_see("Email: grace@example.com")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def offline_user(gateway: FakeGateway) -> AsyncIterator[User]:
    """A dashboard whose gateway URL is a closed loopback port."""
    config = UiConfig(api_url=f"http://127.0.0.1:{_closed_port()}")
    async with user_simulation(root=create_root(config)) as simulated:
        yield simulated


async def test_unreachable_gateway_shows_the_banner(offline_user: User) -> None:
    """With the gateway down, logging in shows the backend banner instead of failing."""
    await offline_user.open("/login")
    offline_user.find(marker="login-email").type("ada@example.com")
    offline_user.find(marker="login-password").type("whatever pw")
    offline_user.find(marker="login-submit").click()
    await offline_user.should_see("cannot reach the gateway", retries=30)
    await offline_user.should_see(marker="login-submit")


async def test_password_change_signs_out_the_other_sessions(
    user: User, gateway: FakeGateway, login: Login
) -> None:
    """The account page changes the password; the gateway ends the other logins."""
    email = await login()
    other = gateway.issue(email, "session")
    await user.open("/account")
    await user.should_see(marker="password-change")
    user.find(marker="password-current").type(PASSWORD)
    user.find(marker="password-new").type("a brand new password")
    user.find(marker="password-again").type("a brand new password")
    user.find(marker="password-change").click()
    await user.should_see("1 other session(s) signed out")
    assert gateway.accounts[email] == "a brand new password"
    assert other not in gateway.tokens


async def test_a_wrong_current_password_changes_nothing(
    user: User, gateway: FakeGateway, login: Login
) -> None:
    """A wrong current password is said so; the password stays."""
    email = await login()
    await user.open("/account")
    await user.should_see(marker="password-change")
    user.find(marker="password-current").type("not it at all")
    user.find(marker="password-new").type("a brand new password")
    user.find(marker="password-again").type("a brand new password")
    user.find(marker="password-change").click()
    await user.should_see("the current password is wrong")
    assert gateway.accounts[email] == PASSWORD


async def test_sign_out_everywhere(user: User, gateway: FakeGateway, login: Login) -> None:
    """Signing out everywhere revokes every token of the account and returns to login."""
    email = await login()
    gateway.issue(email, "api", "ci")
    await user.open("/account")
    await user.should_see(marker="revoke-all")
    user.find(marker="revoke-all").click()
    user.find(marker="confirm-ok").click()
    await user.should_see(marker="login-submit")
    assert not [t for t in gateway.tokens.values() if t["email"] == email]


async def test_calls_carry_the_users_address(
    user: User, gateway: FakeGateway, login: Login
) -> None:
    """Every gateway call forwards the browser's address in X-Forwarded-For."""
    await login()
    assert gateway.requests
    assert all(r.headers.get("x-forwarded-for") for r in gateway.requests)
