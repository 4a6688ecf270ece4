"""Projects: list with status and URL, create (with inline validation), the overview tab."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fakes import FakeGateway
from nicegui import ui
from nicegui.testing import User
from support import eventually, field_error

Login = Callable[..., Awaitable[str]]


async def test_list_shows_status_release_and_url(
    user: User, gateway: FakeGateway, login: Login
) -> None:
    """Each project is listed with its kind, status, current release and public URL."""
    email = await login()
    gateway.add_project(email, "shop")
    live = gateway.add_project(email, "api-fn", kind="function")
    gateway.release(live)
    gateway.add_project("someone@else.com", "theirs")
    await user.open("/")
    await user.should_see(marker="project-shop")
    await user.should_see(marker="project-api-fn")
    await user.should_see("http://shop.apps.localhost:9999/")
    await user.should_see("running")
    await user.should_see("v1")
    await user.should_see("created")
    await user.should_not_see(marker="project-theirs")


async def test_invalid_name_is_marked_on_the_field(
    user: User, gateway: FakeGateway, login: Login
) -> None:
    """A name the gateway refuses (422) is explained under the name input; nothing is made."""
    await login()
    await user.open("/new")
    await user.should_see(marker="create-project")
    user.find(marker="project-name").type("Bad_Name")
    user.find(marker="create-project").click()
    await eventually(lambda: field_error(user, "project-name"))
    assert "starting with a letter" in (field_error(user, "project-name") or "")
    assert gateway.projects == {}


async def test_create_shows_the_git_remote_then_lists_it(
    user: User, gateway: FakeGateway, login: Login
) -> None:
    """Creating a project opens its page with the git remote to add; the list then shows it."""
    await login()
    await user.open("/new")
    await user.should_see(marker="create-project")
    user.find(marker="project-name").type("my-app")
    user.find(marker="create-project").click()
    await user.should_see(marker="project-title")
    await user.should_see("git remote add paastech ssh://git@127.0.0.1:2222/my-app.git")
    assert gateway.projects["my-app"].kind == "container"
    await user.open("/")
    await user.should_see(marker="project-my-app")


async def test_a_taken_name_is_reported(user: User, gateway: FakeGateway, login: Login) -> None:
    """A duplicate name (409) is a notification that says so."""
    await login()
    gateway.add_project("other@example.com", "taken")
    await user.open("/new")
    await user.should_see(marker="create-project")
    user.find(marker="project-name").type("taken")
    user.find(marker="create-project").click()
    await user.should_see("project name taken is taken")


async def test_overview_edits_within_limits(user: User, gateway: FakeGateway, login: Login) -> None:
    """Settings are saved through PATCH; a value over the platform limit is marked on its field."""
    email = await login()
    gateway.add_project(email, "shop")
    await user.open("/projects/shop")
    await user.should_see(marker="save-settings")
    await user.should_see(marker="instances")
    user.find(marker="set-memory").clear().type("4096")
    user.find(marker="save-settings").click()
    await eventually(lambda: field_error(user, "set-memory"))
    assert field_error(user, "set-memory") == "at most 2048"
    user.find(marker="set-memory").clear().type("512")
    user.find(marker="set-idle-timeout").clear().type("60")
    user.find(marker="set-scale-to-zero").click()
    user.find(marker="save-settings").click()
    await user.should_see("Saved")
    project = gateway.projects["shop"]
    assert (project.memory, project.idle_timeout, project.scale_to_zero) == (512, 60, True)
    assert field_error(user, "set-memory") is None


async def test_someone_elses_project_is_not_found(
    user: User, gateway: FakeGateway, login: Login
) -> None:
    """Another Client's project answers 404, shown as a message, not a crash."""
    await login()
    gateway.add_project("other@example.com", "theirs")
    await user.open("/projects/theirs")
    await user.should_see("no project named theirs")


async def test_delete_asks_first(user: User, gateway: FakeGateway, login: Login) -> None:
    """Deleting needs the name typed, then removes the project and returns to the list."""
    email = await login()
    gateway.add_project(email, "shop")
    await user.open("/projects/shop")
    await user.should_see(marker="delete-project")
    user.find(marker="delete-project").click()
    await user.should_see("Delete shop?")
    delete = next(iter(user.find(marker="confirm-ok").elements))
    assert isinstance(delete, ui.button)
    assert not delete.enabled
    user.find(marker="confirm-typed").type("shop")
    user.find(marker="confirm-ok").click()
    await user.should_see("No projects yet.")
    assert "shop" not in gateway.projects


async def test_backend_down_shows_the_banner(
    user: User, gateway: FakeGateway, login: Login
) -> None:
    """A 503 from the scheduler shows the backend banner while the rest of the page works."""
    email = await login()
    gateway.add_project(email, "shop")
    gateway.backend_up = False
    await user.open("/projects/shop")
    await user.should_see(marker="save-settings")
    await user.should_see("Backend unavailable: backend unavailable")
    await user.should_see("Instance status is unavailable right now.")


async def test_banner_follows_the_page(user: User, gateway: FakeGateway, login: Login) -> None:
    """The backend banner is cleared on moving to another page and shown again on a new 503."""
    email = await login()
    gateway.add_project(email, "shop")
    gateway.backend_up = False
    user.navigate.to("/projects/shop")
    await user.should_see("Backend unavailable: backend unavailable")
    user.navigate.to("/keys")
    await user.should_see(marker="key-add")
    await user.should_not_see("Backend unavailable: backend unavailable")
    user.navigate.to("/projects/shop")
    await user.should_see(marker="save-settings")
    await user.should_see("Backend unavailable: backend unavailable")
