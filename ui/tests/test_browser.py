"""The dashboard in a real headless Chromium, against the real gateway and PostgreSQL.

Both run as their own processes on free 127.0.0.1 ports: ``python -m paastech_ui`` and the
gateway (``gateway_main.py``) on a throwaway migrated database of the private cluster. A
component that cannot be provided fails under ``CI`` and skips elsewhere, never passes.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
from conftest import CHROMEDRIVER, CHROMIUM, require
from nomad_app import STATE, NomadStack, provision, run_app
from paastech.infra import nomad as nomad_infra
from paastech.settings import load_settings
from processes import ROOT, start_dashboard, start_gateway, throwaway_database
from selenium import webdriver
from selenium.common.exceptions import ElementClickInterceptedException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

pytestmark = pytest.mark.browser

WAIT = 20


def button(text: str) -> str:
    """The XPath of the button labelled ``text``."""
    return f'//button[.//span[normalize-space()="{text}"]]'


def click(wait: WebDriverWait[WebDriver], xpath: str) -> None:
    """Click the element once it is clickable; a click that lands on something still sliding
    in over it (a tab panel) is tried again until the wait runs out, as a user would."""

    def clicked(driver: WebDriver) -> bool:
        element = ec.element_to_be_clickable((By.XPATH, xpath))(driver)
        if not element:
            return False
        try:
            element.click()
        except ElementClickInterceptedException:
            return False
        return True

    wait.until(clicked)


@pytest.fixture(scope="module")
def database() -> Iterator[dict[str, str]]:
    """A throwaway migrated database: its ``PAASTECH_DB__*`` environment."""
    try:
        db_env, drop = throwaway_database(ROOT / ".paastech")
    except Exception as exc:
        require("postgres", str(exc))
    yield db_env
    drop()


@pytest.fixture(scope="module")
def gateway_url(
    database: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The real gateway on the throwaway database, reading instances and logs from Nomad with
    the platform's token (deploys stay unavailable: that is the control loop's part)."""
    logs = tmp_path_factory.mktemp("logs")
    nomad_infra.management_token(STATE)  # the agent adopts it whenever it starts
    env = {**database, "PAASTECH_NOMAD__TOKEN_FILE": str(nomad_infra.token_path(STATE))}
    url, stop = start_gateway(env, tmp_path_factory.mktemp("gateway"), logs)
    yield url
    stop()


@pytest.fixture(scope="module")
def nomad_stack() -> Iterator[NomadStack]:
    """Docker, registry, base images and the Nomad agent (provisioned), an app image pushed."""
    stack, cleanup = provision()
    yield stack
    cleanup()


@dataclass(frozen=True)
class Dashboard:
    url: str
    state: Path
    log: Path


@pytest.fixture(scope="module")
def dashboard(gateway_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    """``python -m paastech_ui`` against the real gateway, its state and log inspectable."""
    state = tmp_path_factory.mktemp("ui-state")
    logs = tmp_path_factory.mktemp("ui-logs")
    url, stop = start_dashboard(gateway_url, state, logs)
    yield Dashboard(url=url, state=state, log=logs / "dashboard.log")
    stop()


@pytest.fixture
def browser(chromium: None, tmp_path: Path) -> Iterator[WebDriver]:

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'chromium'}",
        "--window-size=1280,900",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def test_signup_login_create_project_and_see_it_listed(
    browser: WebDriver, dashboard: Dashboard, tmp_path: Path
) -> None:
    """A new user signs up, logs out and in again, creates a project and finds it listed."""

    driver = browser
    wait = WebDriverWait(driver, WAIT)
    shots = Path(os.environ.get("PAASTECH_UI_SCREENSHOTS", tmp_path))

    def field(label: str) -> WebElement:
        return wait.until(
            ec.visibility_of_element_located((By.CSS_SELECTOR, f'input[aria-label="{label}"]'))
        )

    def text_appears(text: str) -> None:
        wait.until(ec.text_to_be_present_in_element((By.TAG_NAME, "body"), text))

    driver.get(f"{dashboard.url}/signup")
    field("Email").send_keys("ada@example.com")
    field("Password").send_keys("correct horse battery")
    field("Repeat password").send_keys("correct horse battery")
    driver.save_screenshot(str(shots / "signup.png"))
    click(wait, button("Create account"))
    text_appears("No projects yet.")
    text_appears("ada@example.com")

    click(wait, button("Log out"))
    field("Email").send_keys("ada@example.com")
    field("Password").send_keys("correct horse battery")
    click(wait, button("Log in"))
    text_appears("No projects yet.")

    click(wait, button("New project"))
    field("Name").send_keys("Bad_Name")
    click(wait, button("Create project"))
    wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, ".q-field--error")))
    driver.save_screenshot(str(shots / "invalid-name.png"))
    name = field("Name")
    name.send_keys(Keys.CONTROL, "a")  # clear() bypasses Vue's input events
    name.send_keys(Keys.BACKSPACE)
    name.send_keys("hello-web")
    click(wait, button("Create project"))
    text_appears("git remote add paastech")
    driver.save_screenshot(str(shots / "project.png"))

    driver.get(f"{dashboard.url}/")
    text_appears("hello-web")
    text_appears("created")
    driver.save_screenshot(str(shots / "projects.png"))
    assert "token" not in driver.current_url

    # The session token sits in the dashboard's private per-user storage, nowhere else.
    storage = dashboard.state / "storage"
    assert stat.S_IMODE(storage.stat().st_mode) == 0o700
    tokens = [
        json.loads(path.read_text()).get("token") for path in storage.glob("storage-user-*.json")
    ]
    token = next(t for t in tokens if t)
    assert token not in dashboard.log.read_text()
    assert token not in driver.page_source
    assert all(token not in c["value"] for c in driver.get_cookies())


def _release_rows(database: dict[str, str], project: str, rows: list[tuple[int, str, str]]) -> None:
    """Releases of ``project`` as the control loop records them; v1 is the one serving."""

    async def write() -> None:
        conn = await asyncpg.connect(load_settings(database).db.dsn())
        try:
            pid = await conn.fetchval("SELECT id FROM projects WHERE name = $1", project)
            for version, status, reason in rows:
                await conn.execute(
                    "INSERT INTO releases (id, project, version, image, digest, description,"
                    " status, reason, created_at) VALUES ($1, $2, $3, '', '', $4, $5, $6, now())",
                    uuid.uuid4(),
                    pid,
                    version,
                    f"Deploy {version}abc123",
                    status,
                    reason,
                )
            await conn.execute("UPDATE projects SET current_release = 1 WHERE id = $1", pid)
        finally:
            await conn.close()

    asyncio.run(write())


def test_project_page_shows_the_running_app_releases_and_followed_logs(
    browser: WebDriver,
    dashboard: Dashboard,
    database: dict[str, str],
    nomad_stack: NomadStack,
    tmp_path: Path,
) -> None:
    """With the app running in Nomad, its page shows the live URL and release, a failed
    release's reason, the instance at its address, and its log lines as they are written."""
    driver = browser
    wait = WebDriverWait(driver, WAIT)
    shots = Path(os.environ.get("PAASTECH_UI_SCREENSHOTS", tmp_path))

    def text_appears(text: str) -> None:
        try:
            wait.until(ec.text_to_be_present_in_element((By.TAG_NAME, "body"), text))
        except TimeoutException:
            driver.save_screenshot(str(shots / "failed.png"))
            body = driver.find_element(By.TAG_NAME, "body").text
            raise AssertionError(f"{text!r} never appeared; the page says:\n{body}") from None

    name = f"live-{uuid.uuid4().hex[:6]}"
    driver.get(f"{dashboard.url}/signup")
    for label, value in (
        ("Email", f"{name}@example.com"),
        ("Password", "correct horse battery"),
        ("Repeat password", "correct horse battery"),
    ):
        wait.until(
            ec.visibility_of_element_located((By.CSS_SELECTOR, f'input[aria-label="{label}"]'))
        ).send_keys(value)
    click(wait, button("Create account"))
    text_appears("No projects yet.")
    click(wait, button("New project"))
    wait.until(
        ec.visibility_of_element_located((By.CSS_SELECTOR, 'input[aria-label="Name"]'))
    ).send_keys(name)
    click(wait, button("Create project"))
    text_appears("git remote add paastech")

    _release_rows(
        database, name, [(1, "live", ""), (2, "failed", "health check failed on /: status 500")]
    )
    address, purge = run_app(nomad_stack, name, version=1)
    try:
        driver.get(f"{dashboard.url}/projects/{name}")
        text_appears(f"http://{name}.apps.localhost:9999")
        text_appears("Live release: v1")
        text_appears(address)
        text_appears("running")
        driver.save_screenshot(str(shots / "project-live.png"))

        click(wait, '//*[@role="tab" and contains(., "Releases")]')
        text_appears("health check failed on /: status 500")
        driver.save_screenshot(str(shots / "project-releases.png"))

        click(wait, '//*[@role="tab" and contains(., "Logs")]')
        click(wait, '//*[@role="switch" and contains(., "Follow")]')
        text_appears("stdout: started v1")
        path = f"/seen-by-{name}"
        httpx.get(f"http://{address}{path}", timeout=5)
        text_appears(f"GET {path} HTTP/1.1")
        driver.save_screenshot(str(shots / "project-logs.png"))
    finally:
        purge()
