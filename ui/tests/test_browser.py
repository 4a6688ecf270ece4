"""The dashboard in a real headless Chromium, against the real gateway and PostgreSQL.

Both run as their own processes on free 127.0.0.1 ports: ``python -m paastech_ui`` and the
gateway (``gateway_main.py``) on a throwaway migrated database of the private cluster. A
component that cannot be provided fails under ``CI`` and skips elsewhere, never passes.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import CHROMEDRIVER, CHROMIUM, require
from processes import ROOT, start_dashboard, start_gateway, throwaway_database
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

pytestmark = pytest.mark.browser

WAIT = 20


@pytest.fixture(scope="module")
def gateway_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real gateway on a throwaway database."""
    logs = tmp_path_factory.mktemp("logs")
    try:
        db_env, drop = throwaway_database(ROOT / ".paastech")
    except Exception as exc:
        require("postgres", str(exc))
    try:
        url, stop = start_gateway(db_env, tmp_path_factory.mktemp("gateway"), logs)
    except Exception:
        drop()
        raise
    yield url
    stop()
    drop()


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

    def button(text: str) -> WebElement:
        xpath = f'//button[.//span[normalize-space()="{text}"]]'
        return wait.until(ec.element_to_be_clickable((By.XPATH, xpath)))

    def text_appears(text: str) -> None:
        wait.until(ec.text_to_be_present_in_element((By.TAG_NAME, "body"), text))

    driver.get(f"{dashboard.url}/signup")
    field("Email").send_keys("ada@example.com")
    field("Password").send_keys("correct horse battery")
    field("Repeat password").send_keys("correct horse battery")
    driver.save_screenshot(str(shots / "signup.png"))
    button("Create account").click()
    text_appears("No projects yet.")
    text_appears("ada@example.com")

    button("Log out").click()
    field("Email").send_keys("ada@example.com")
    field("Password").send_keys("correct horse battery")
    button("Log in").click()
    text_appears("No projects yet.")

    button("New project").click()
    field("Name").send_keys("Bad_Name")
    button("Create project").click()
    wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, ".q-field--error")))
    driver.save_screenshot(str(shots / "invalid-name.png"))
    name = field("Name")
    name.send_keys(Keys.CONTROL, "a")  # clear() bypasses Vue's input events
    name.send_keys(Keys.BACKSPACE)
    name.send_keys("hello-web")
    button("Create project").click()
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
