"""Functions and scale to zero as a user lives them: push a function, watch it sleep after
its idle timeout, wake it with the next request (cold once, warm after), through Fabio."""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from e2e_harness import Onboarded, Platform, User, eventually, onboard, remote_lines

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
FUNCTION = ROOT / "examples" / "python-function"
CONTAINER = ROOT / "examples" / "python-app"
IDLE = 10
SLEEP_WAIT = IDLE + 30.0


@dataclass
class Fn:
    """A pushed project of the test's user."""

    user: User
    name: str
    repo: Path
    platform: Platform

    def cli(self, *args: str) -> str:
        return self.user.ok("paastech", *args, cwd=self.repo)

    def get(self, path: str = "/", timeout: float = 40.0) -> httpx.Response:
        return self.platform.via_fabio(self.name, path, timeout=timeout)

    def post(self, body: bytes, client: httpx.Client | None = None) -> httpx.Response:
        http = client or httpx
        return http.post(
            f"http://127.0.0.1:{self.platform.proxy_port}/",
            content=body,
            headers={
                "Host": f"{self.name}.apps.localhost:{self.platform.proxy_port}",
                "Content-Type": "application/json",
            },
            timeout=40.0,
        )

    def running(self) -> int:
        """Allocations of its job Nomad runs (or is starting) now."""
        return sum(
            1
            for a in self.nomad().get(f"/v1/job/paastech-{self.name}/allocations").json()
            if a["ClientStatus"] in {"running", "pending"} and a["DesiredStatus"] == "run"
        )

    def scale_events(self) -> list[dict[str, object]]:
        """Nomad's scaling events of the group, newest first."""
        found = self.nomad().get(f"/v1/job/paastech-{self.name}/scale").json()
        return list((found.get("TaskGroups") or {}).get("web", {}).get("Events") or [])

    def nomad(self) -> httpx.Client:
        nomad = self.platform.stack.nomad
        return httpx.Client(base_url=nomad.address, headers=nomad.headers, timeout=10)

    def info(self) -> dict[str, object]:
        found: dict[str, object] = json.loads(self.cli("projects", "info", "--json"))
        return found

    def wait_asleep(self) -> None:
        eventually(lambda: self.running() == 0, f"{self.name} has 0 allocations", SLEEP_WAIT)
        eventually(lambda: self.info().get("asleep") is True, f"{self.name} asleep", 10)


@pytest.fixture(scope="module")
def dora(new_user: Callable[[str], User]) -> Onboarded:
    return onboard(new_user("dora"))


@pytest.fixture(scope="module")
def push_project(dora: Onboarded, platform: Platform) -> Callable[..., Fn]:
    def push(name: str, *, kind: str = "function", source: Path = FUNCTION) -> Fn:
        user = dora.user
        repo = user.home / name
        shutil.copytree(source, repo)
        user.ok("git", "init", "-q", "-b", "main", cwd=repo)
        user.ok("git", "add", ".", cwd=repo)
        user.ok("git", "commit", "-q", "-m", "first", cwd=repo)
        user.ok("paastech", "projects", "create", name, "--kind", kind, cwd=repo)
        fn = Fn(user, name, repo, platform)
        if kind == "function":
            fn.cli("projects", "update", "--idle-timeout", str(IDLE))
        pushed = user.run("git", "push", "paastech", "main", cwd=repo)
        assert pushed.returncode == 0, (pushed.stderr, platform.server_log()[-3000:])
        assert any(line.startswith("-----> Live at") for line in remote_lines(pushed))
        return fn

    return push


@pytest.fixture(scope="module")
def hello(push_project: Callable[..., Fn]) -> Fn:
    return push_project("fn-hello")


def test_a_function_answers_sleeps_after_its_idle_timeout_and_wakes_cold_once(
    hello: Fn,
) -> None:
    """After the push the handler answers through Fabio; 10 s idle → 0 allocations; the next
    request is answered 200 with X-PaaSTech-Cold-Start and Server-Timing, later ones warm."""
    first = hello.get("/?name=dora")
    assert first.status_code == 200
    assert first.text == "Hello, dora!\n"
    hello.wait_asleep()
    cold = hello.get("/?name=cold")
    assert cold.status_code == 200, cold.text
    assert cold.text == "Hello, cold!\n"
    assert int(cold.headers["X-PaaSTech-Cold-Start"]) > 0
    assert "healthy;dur=" in cold.headers["Server-Timing"]
    warm = [hello.get("/?name=warm") for _ in range(5)]
    assert [r.status_code for r in warm] == [200] * 5
    assert all("X-PaaSTech-Cold-Start" not in r.headers for r in warm)
    info = hello.info()
    assert info["kind"] == "function"
    assert info["idle_timeout"] == IDLE
    assert info["asleep"] is False
    logs = hello.cli("logs", "--cold-starts")
    assert "cold start" in logs


def test_twenty_concurrent_cold_requests_make_one_scale_up_and_keep_their_bodies(
    hello: Fn,
) -> None:
    """20 concurrent POSTs to a sleeping function: exactly one wake in Nomad's scaling events,
    and each answered 201 with its own JSON body echoed."""
    hello.wait_asleep()
    before = len([e for e in hello.scale_events() if "wake" in str(e.get("Message"))])
    bodies = [json.dumps({"n": i, "pad": "x" * (i * 97)}).encode() for i in range(20)]
    start = threading.Barrier(20)

    def one(body: bytes) -> httpx.Response:
        start.wait()
        return hello.post(body)

    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(one, bodies))
    assert [r.status_code for r in answers] == [201] * 20, [r.text for r in answers]
    for body, answer in zip(bodies, answers, strict=True):
        assert answer.json() == {"received": json.loads(body)}
    wakes = [e for e in hello.scale_events() if "wake" in str(e.get("Message"))]
    assert len(wakes) - before == 1, wakes
    assert hello.running() == 1


def test_a_thousand_requests_across_idle_timeout_boundaries_all_succeed(hello: Fn) -> None:
    """Bursts timed to land as the idler drains and scales the function to 0 (and just
    after): 1,000 requests, no error, each with its own answer."""
    assert hello.get().status_code == 200
    failures: list[str] = []
    sent = 0
    with httpx.Client(timeout=40.0) as client, ThreadPoolExecutor(20) as pool:
        for offset in (10.0, 10.8, 11.6, 12.4, 13.2):
            time.sleep(offset)  # idle since the last burst: the drain starts around now

            def one(i: int, offset: float = offset) -> None:
                name = f"b{offset}-{i}"
                try:
                    r = client.get(
                        f"http://127.0.0.1:{hello.platform.proxy_port}/",
                        params={"name": name},
                        headers={"Host": f"{hello.name}.apps.localhost"},
                    )
                    if r.status_code != 200 or r.text != f"Hello, {name}!\n":
                        failures.append(f"{r.status_code} {r.text[:80]}")
                except httpx.HTTPError as exc:
                    failures.append(type(exc).__name__)

            list(pool.map(one, range(200)))
            sent += 200
    assert sent == 1000
    assert failures == []


def test_twenty_different_cold_functions_woken_at_once_all_answer(
    push_project: Callable[..., Fn],
) -> None:
    """20 sleeping functions, one request each at the same moment: all 200."""
    fns = [push_project(f"fn-many-{i}") for i in range(20)]
    for fn in fns:
        fn.wait_asleep()
    start = threading.Barrier(len(fns))

    def one(fn: Fn) -> httpx.Response:
        start.wait()
        return fn.get(f"/?name={fn.name}")

    with ThreadPoolExecutor(len(fns)) as pool:
        answers = list(pool.map(one, fns))
    assert [r.status_code for r in answers] == [200] * len(fns)
    assert [r.text for r in answers] == [f"Hello, {fn.name}!\n" for fn in fns]
    assert all("X-PaaSTech-Cold-Start" in r.headers for r in answers)


def test_a_container_app_that_opts_in_sleeps_and_wakes_the_same_way(
    push_project: Callable[..., Fn],
) -> None:
    """A container app with scale_to_zero and a 10 s idle timeout reaches 0 allocations and
    its next request is answered 200 with X-PaaSTech-Cold-Start."""
    app = push_project("ct-sleepy", kind="container", source=CONTAINER)
    assert app.get().status_code == 200
    app.cli("projects", "update", "--scale-to-zero", "--idle-timeout", str(IDLE))
    eventually(lambda: app.info().get("scale_to_zero") is True, "scale_to_zero set", 10)
    app.wait_asleep()
    cold = app.get()
    assert cold.status_code == 200
    assert "X-PaaSTech-Cold-Start" in cold.headers
    warm = app.get()
    assert warm.status_code == 200
    assert "X-PaaSTech-Cold-Start" not in warm.headers
