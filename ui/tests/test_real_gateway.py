"""The dashboard's pages against the real gateway (in process) on a real throwaway database.

The simulated ``User`` drives the pages as in the other tests, but the transport under
``GatewayClient`` is the real Litestar app (``httpx.ASGITransport``, its lifespan connecting
the real PostgreSQL pool), so these tests pin the dashboard to the gateway's actual answers:
field names in 422s, masked env values, token listing, audit rows. Routes that need the
scheduler answer 503 here, as they do until Nomad is wired in.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager

import httpx
import pytest
from conftest import require
from nicegui.testing import User, user_simulation
from paastech.gateway.app import create_app
from paastech.services import Services
from paastech.settings import Settings, load_settings
from processes import ENV_KEY, ROOT, throwaway_database
from support import eventually, field_error

from paastech_ui.app import create_root
from paastech_ui.config import UiConfig

PASSWORD = "correct horse battery"
Dashboard = Callable[[], AbstractAsyncContextManager[User]]


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Gateway settings on a throwaway migrated database of the private cluster."""
    try:
        db_env, drop = throwaway_database(ROOT / ".paastech")
    except Exception as exc:
        require("postgres", str(exc))
    state = tmp_path_factory.mktemp("gateway-state")
    yield load_settings(
        {**db_env, "PAASTECH_STATE_DIR": str(state), "PAASTECH_SECRETS__ENV_KEY": ENV_KEY}
    )
    drop()


@pytest.fixture
def dashboard(settings: Settings) -> Dashboard:
    """Opens the dashboard with the real gateway app as its transport.

    A context manager the test enters itself: Litestar's lifespan must be left in the task
    that entered it, which an async fixture's teardown does not guarantee.
    """

    @contextlib.asynccontextmanager
    async def open_dashboard() -> AsyncIterator[User]:
        gateway = create_app(settings, Services())
        async with gateway.lifespan():
            transport = httpx.ASGITransport(gateway)
            config = UiConfig(api_url="http://gateway.test", transport=transport)
            async with user_simulation(root=create_root(config)) as simulated:
                yield simulated

    return open_dashboard


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def signup(user: User) -> str:
    email = f"{unique('ada')}@example.com"
    await user.open("/signup")
    user.find(marker="signup-email").type(email)
    user.find(marker="signup-password").type(PASSWORD)
    user.find(marker="signup-repeat").type(PASSWORD)
    user.find(marker="signup-submit").click()
    await user.should_see("No projects yet.", retries=50)
    return email


async def submit_new_project(user: User, name: str) -> None:
    """Fill in the new-project form with ``name`` and submit it."""
    await user.open("/new")
    user.find(marker="project-name").type(name)
    user.find(marker="create-project").click()


async def test_signup_create_and_list(dashboard: Dashboard) -> None:
    """Signing up, creating a project and listing it work against the real gateway."""
    async with dashboard() as user:
        await signup(user)
        name = unique("web")
        await submit_new_project(user, name)
        await user.should_see("git remote add paastech ssh://git@", retries=50)
        await user.open("/")
        await user.should_see(marker=f"project-{name}")
        await user.should_see("created")


async def test_real_422_is_marked_on_the_name(dashboard: Dashboard) -> None:
    """The real gateway's 422 for a bad project name lands on the name field."""
    async with dashboard() as user:
        await signup(user)
        await submit_new_project(user, "Bad_Name")
        await eventually(lambda: field_error(user, "project-name"))


async def test_env_masked_then_revealed(dashboard: Dashboard) -> None:
    """An env value set from the dashboard is masked by the gateway until revealed."""
    async with dashboard() as user:
        await signup(user)
        name = unique("env")
        await submit_new_project(user, name)
        await user.should_see(marker="logs-load", retries=50)
        user.find(marker="env-new-key").type("GREETING")
        user.find(marker="env-new-value").type("hello-secret")
        user.find(marker="env-set").click()
        await user.should_see(marker="env-key-GREETING", retries=50)
        await user.should_not_see("hello-secret")
        user.find(marker="env-reveal").click()
        await user.should_see("hello-secret", retries=50)


async def test_keys_tokens_and_audit(dashboard: Dashboard) -> None:
    """A key and a token made in the dashboard show up in their lists and in the audit."""
    async with dashboard() as user:
        await signup(user)
        await user.open("/keys")
        await user.should_see(marker="key-add", retries=50)
        user.find(marker="key-name").type("laptop")
        user.find(marker="key-public").type(
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFvQyXqlY0rS4mrhHcfv3m5yXf3Y8eE3pNn8mK0Zd1Jf t@h"
        )
        user.find(marker="key-add").click()
        await user.should_see(marker="key-list", retries=50)
        await user.open("/tokens")
        await user.should_see(marker="token-create", retries=50)
        user.find(marker="token-name").type("ci")
        user.find(marker="token-create").click()
        await user.should_see(marker="new-token", retries=50)
        user.find(marker="token-done").click()
        await user.should_see(marker="token-revoke-ci", retries=50)
        await user.open("/audit")
        await user.should_see(marker="audit", retries=50)
        table = next(iter(user.find(marker="audit").elements))
        await eventually(lambda: len(getattr(table, "rows", [])) >= 3)
        actions = {row["action"] for row in getattr(table, "rows", [])}
        assert {"key.add", "token.create"} <= actions, actions


async def test_scheduler_routes_show_the_banner(dashboard: Dashboard) -> None:
    """Without Nomad the real gateway answers 503 for instances: the page shows the banner."""
    async with dashboard() as user:
        await signup(user)
        name = unique("nomad")
        await submit_new_project(user, name)
        await user.should_see(marker="project-title", retries=50)
        await user.open(f"/projects/{name}")
        await user.should_see("Backend unavailable", retries=50)
        await user.should_see("Instance status is unavailable right now.")
