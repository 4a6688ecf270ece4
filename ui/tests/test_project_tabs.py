"""The project page's tabs: environment, builds, releases, domains, runtime logs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fakes import FakeGateway, log_line
from nicegui.testing import User
from support import eventually

Login = Callable[..., Awaitable[str]]


async def _open(user: User, gateway: FakeGateway, login: Login, name: str = "shop") -> None:
    email = await login()
    project = gateway.add_project(email, name)
    gateway.release(project)
    await user.open(f"/projects/{name}")
    await user.should_see(marker="logs-load")  # the last tab: the whole page is built


async def test_env_is_masked_until_revealed(user: User, gateway: FakeGateway, login: Login) -> None:
    """Values show as **** until "Reveal values" is switched on."""
    await _open(user, gateway, login)
    gateway.projects["shop"].env["DATABASE_URL"] = "postgres://secret"
    await user.open("/projects/shop")
    await user.should_see(marker="logs-load")
    await user.should_see(marker="env-key-DATABASE_URL")
    await user.should_see("****")
    await user.should_not_see("postgres://secret")
    user.find(marker="env-reveal").click()
    await user.should_see("postgres://secret")


async def test_env_set_and_unset(user: User, gateway: FakeGateway, login: Login) -> None:
    """Setting a variable sends it and lists it; unsetting (confirmed) removes it."""
    await _open(user, gateway, login)
    user.find(marker="env-new-key").type("GREETING")
    user.find(marker="env-new-value").type("hello")
    user.find(marker="env-set").click()
    await user.should_see(marker="env-key-GREETING")
    assert gateway.projects["shop"].env == {"GREETING": "hello"}
    user.find(marker="env-unset-GREETING").click()
    user.find(marker="confirm-ok").click()
    await user.should_see(marker="env-empty")
    assert gateway.projects["shop"].env == {}


async def test_env_refuses_a_bad_key_before_sending(
    user: User, gateway: FakeGateway, login: Login
) -> None:
    """A variable name that is not an identifier is marked and nothing is sent."""
    await _open(user, gateway, login)
    sent = len(gateway.requests)
    user.find(marker="env-new-key").type("1-BAD")
    user.find(marker="env-set").click()
    await user.should_see(marker="env-set")
    assert len(gateway.requests) == sent


async def test_build_log_viewer(user: User, gateway: FakeGateway, login: Login) -> None:
    """The builds tab lists builds and shows a build's kept log in the viewer."""
    await _open(user, gateway, login)
    await user.should_see(marker="build-list")
    user.find(marker="build-log-1").click()
    await user.should_see("Step 2/2 : CMD python app.py")


async def test_rollback_needs_confirmation(user: User, gateway: FakeGateway, login: Login) -> None:
    """Rolling back asks first, then makes a new release from the old one."""
    await _open(user, gateway, login)
    gateway.release(gateway.projects["shop"], "Deploy def5678")
    await user.open("/projects/shop")
    await user.should_see(marker="logs-load")
    await user.should_see(marker="rollback-v1")
    user.find(marker="rollback-v1").click()
    await user.should_see("Roll back to v1?")
    user.find(marker="confirm-cancel").click()
    assert len(gateway.projects["shop"].releases) == 2
    user.find(marker="rollback-v1").click()
    user.find(marker="confirm-ok").click()
    await user.should_see("Rollback to v1")
    assert gateway.projects["shop"].releases[-1]["description"] == "Rollback to v1"


async def test_domains_add_and_remove(user: User, gateway: FakeGateway, login: Login) -> None:
    """A custom hostname is added, listed, and removed after confirmation."""
    await _open(user, gateway, login)
    user.find(marker="domain-new").type("www.example.com")
    user.find(marker="domain-add").click()
    await user.should_see(marker="domain-list")
    assert gateway.projects["shop"].domains == ["www.example.com"]
    user.find(marker="domain-remove-www.example.com").click()
    user.find(marker="confirm-ok").click()
    await user.should_see("No custom domains.")
    assert gateway.projects["shop"].domains == []


async def test_domains_show_the_txt_challenge_and_verify(
    user: User, gateway: FakeGateway, login: Login
) -> None:
    """An unproved domain shows its TXT record; Verify fails until it is published."""
    await _open(user, gateway, login)
    user.find(marker="domain-new").type("www.example.com")
    user.find(marker="domain-add").click()
    await user.should_see(marker="domain-txt-www.example.com")
    await user.should_see("_paastech-challenge.www.example.com")
    user.find(marker="domain-verify-www.example.com").click()
    await user.should_see("no TXT record yet")
    gateway.proved_domains.add("www.example.com")
    user.find(marker="domain-verify-www.example.com").click()
    await user.should_see(marker="domain-ok-www.example.com")


async def test_runtime_logs_load(user: User, gateway: FakeGateway, login: Login) -> None:
    """Loading logs shows each instance's lines, merged, with stream and instance."""
    gateway.log_lines = [log_line(0, "listening on :8080"), log_line(1, "oops", "stderr")]
    await _open(user, gateway, login)
    user.find(marker="logs-load").click()
    await user.should_see("listening on :8080")
    await user.should_see("0000abcd stderr: oops")


async def test_runtime_logs_when_the_backend_is_down(
    user: User, gateway: FakeGateway, login: Login
) -> None:
    """Logs that need the scheduler show the backend banner when it is down."""
    await _open(user, gateway, login)
    gateway.backend_up = False
    user.find(marker="logs-load").click()
    await user.should_see("Backend unavailable")


async def test_runtime_logs_follow(user: User, gateway: FakeGateway, login: Login) -> None:
    """Switching "Follow" on streams the logs with follow=true into the viewer."""
    gateway.log_lines = [log_line(0, "GET / 200")]
    await _open(user, gateway, login)
    user.find(marker="logs-follow").click()
    await user.should_see("GET / 200")
    followed = [r for r in gateway.requests if r.url.path.endswith("/logs")]
    assert followed[-1].url.params["follow"] == "true"


async def test_releases_show_the_failure_reason_and_which_one_is_live(
    user: User, gateway: FakeGateway, login: Login
) -> None:
    """A failed newest release shows why; the older release that still serves is the live one
    and the failed one can be rolled back from."""
    email = await login()
    project = gateway.add_project(email, "shop")
    gateway.release(project)
    gateway.release(project, "Deploy def5678")
    project.releases[-1].update(status="failed", reason="crashed at start: exit code 1")
    project.live = 1
    await user.open("/projects/shop")
    await user.should_see(marker="logs-load")
    await user.should_see(marker="release-reason-v2")
    await user.should_see("crashed at start: exit code 1")
    await user.should_see("Live release: v1")
    await user.should_see(marker="rollback-v2")
    await user.should_not_see(marker="rollback-v1")


async def test_overview_links_the_live_url_and_lists_instances(
    user: User, gateway: FakeGateway, login: Login
) -> None:
    """The app's URL is a link; each instance is listed, and refreshing picks up a scale."""
    await _open(user, gateway, login)
    link = next(iter(user.find(marker="project-url").elements))
    assert getattr(link, "props", {}).get("href") == "http://shop.apps.localhost:9999/"

    def addresses() -> list[str]:
        table = next(iter(user.find(marker="instances").elements))
        return [row["address"] for row in getattr(table, "rows", [])]

    assert addresses() == ["127.0.0.1:20000"]
    gateway.projects["shop"].instances = 2
    user.find(marker="instances-refresh").click()
    await eventually(lambda: addresses() == ["127.0.0.1:20000", "127.0.0.1:20001"])
