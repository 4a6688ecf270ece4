"""Deploys as a user lives them: zero-downtime pushes, failed releases that change nothing,
env, rollback, scale, and the platform healing itself — through git, the CLI and Fabio."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from e2e_harness import Onboarded, Platform, User, eventually, onboard, remote_lines

pytestmark = pytest.mark.e2e

# An app of the test's own: it says which content, release and instance answered, echoes one
# env var, and can be told (by a constant) to crash at start or to fail its health check.
APP = """\
import json, os, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CONTENT = "{content}"
MODE = "{mode}"

if MODE == "crash":
    print("boom: DATABASE_URL is not set", flush=True)
    sys.exit(3)


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/health":
            self._reply(503 if MODE == "unhealthy" else 200, {{"mode": MODE}})
            return
        if self.path.startswith("/env/"):
            value = os.environ.get(self.path.removeprefix("/env/"))
            self._reply(200, {{"value": value}})
            return
        self._reply(200, {{
            "content": CONTENT,
            "release": os.environ.get("PAASTECH_RELEASE", ""),
            "instance": os.environ.get("NOMAD_ALLOC_ID", ""),
        }})

    def _reply(self, status, payload):
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


print("serving", CONTENT, flush=True)
ThreadingHTTPServer((os.environ["HOST"], int(os.environ["PORT"])), Handler).serve_forever()
"""


@dataclass
class App:
    """A project of the test's user, with its repository."""

    user: User
    name: str
    repo: Path

    def push(self, content: str, mode: str = "ok") -> subprocess.CompletedProcess[str]:
        """Commit the app with ``content`` (and ``mode``) and ``git push paastech main``."""
        (self.repo / "app.py").write_text(APP.format(content=content, mode=mode))
        self.user.ok("git", "add", "-A", cwd=self.repo)
        self.user.ok("git", "commit", "-q", "--allow-empty", "-m", content, cwd=self.repo)
        return self.user.run("git", "push", "paastech", "main", cwd=self.repo)

    def cli(self, *args: str) -> str:
        return self.user.ok("paastech", *args, cwd=self.repo)


@pytest.fixture(scope="module")
def carol(new_user: Callable[[str], User]) -> Onboarded:
    return onboard(new_user("carol"))


@pytest.fixture(scope="module")
def make_app(carol: Onboarded) -> Callable[[str], App]:
    def make(name: str) -> App:
        user = carol.user
        repo = user.home / name
        repo.mkdir()
        (repo / "requirements.txt").write_text("")
        (repo / "Procfile").write_text("web: python app.py\n")
        (repo / "paastech.toml").write_text('health_path = "/health"\n')
        user.ok("git", "init", "-q", "-b", "main", cwd=repo)
        user.ok("paastech", "projects", "create", name, cwd=repo)
        return App(user, name, repo)

    return make


@dataclass
class Probe:
    """Requests through Fabio at a steady rate in a thread, counting what failed."""

    platform: Platform
    project: str
    rate: float = 25.0
    ok: int = 0
    failures: list[str] = field(default_factory=list)
    contents: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        with httpx.Client(timeout=5) as client:
            while not self._stop.is_set():
                started = time.monotonic()
                try:
                    r = client.get(
                        f"http://127.0.0.1:{self.platform.proxy_port}/",
                        headers={"Host": f"{self.project}.apps.localhost"},
                    )
                    if r.status_code == 200:
                        self.ok += 1
                        self.contents.append(r.json()["content"])
                    else:
                        self.failures.append(f"status {r.status_code}")
                except httpx.HTTPError as exc:
                    self.failures.append(type(exc).__name__)
                self._stop.wait(max(0.0, 1 / self.rate - (time.monotonic() - started)))


@pytest.fixture
def probe(platform: Platform) -> Iterator[Callable[[str], Probe]]:
    """Start a probe on a project; it is stopped (and joined) at the end of the test."""
    running: list[tuple[Probe, threading.Thread]] = []

    def start(project: str) -> Probe:
        p = Probe(platform, project)
        thread = threading.Thread(target=p.run, daemon=True)
        thread.start()
        running.append((p, thread))
        return p

    yield start
    for p, thread in running:
        p._stop.set()
        thread.join(timeout=10)


def stop_probe(p: Probe) -> None:
    p._stop.set()
    time.sleep(0.1)


def test_a_code_change_deploys_with_zero_failed_requests(
    make_app: Callable[[str], App], platform: Platform, probe: Callable[[str], Probe]
) -> None:
    """A second push while ≥ 20 requests/s flow through Fabio: none fails, and once the push
    returns every answer is the new content."""
    app = make_app("zerodown")
    first = app.push("one")
    assert first.returncode == 0, first.stderr
    p = probe(app.name)
    time.sleep(2)
    second = app.push("two")
    assert second.returncode == 0, second.stderr
    after = [platform.via_fabio(app.name).json()["content"] for _ in range(20)]
    time.sleep(1)
    stop_probe(p)
    assert after == ["two"] * 20
    assert p.failures == []
    assert p.ok >= 20 * 5, p.ok  # at least five seconds of probing at >= 20/s
    assert {"one", "two"} <= set(p.contents)


@pytest.mark.parametrize(
    ("mode", "reason", "log_line"),
    [
        ("crash", "the app crashed at start: it exited with code 3", "boom: DATABASE_URL"),
        ("unhealthy", "health check failed", "serving broken"),
    ],
)
def test_a_failing_release_fails_the_push_and_the_previous_one_keeps_serving(
    make_app: Callable[[str], App],
    platform: Platform,
    probe: Callable[[str], Probe],
    *,
    mode: str,
    reason: str,
    log_line: str,
) -> None:
    """A release that exits at start, or never passes its check, fails the push with the
    reason and the app's last log lines; the previous release serves throughout."""
    app = make_app(f"fail-{mode}")
    assert app.push("good").returncode == 0
    p = probe(app.name)
    pushed = app.push("broken", mode=mode)
    stop_probe(p)
    lines = remote_lines(pushed)
    assert pushed.returncode != 0
    failed = next(line for line in lines if line.startswith("! Deploy failed: "))
    assert failed.startswith(f"! Deploy failed: {reason}"), failed
    assert any(log_line in line for line in lines), lines
    assert p.failures == []
    assert set(p.contents) == {"good"}
    releases = json.loads(app.cli("releases", "--json"))
    assert [(r["version"], r["status"]) for r in releases] == [(2, "failed"), (1, "live")]
    assert releases[0]["reason"].startswith(reason)
    assert platform.via_fabio(app.name).json()["content"] == "good"


def test_env_rollback_and_scale_as_a_user_sees_them(
    make_app: Callable[[str], App], platform: Platform
) -> None:
    """An env value with a newline and quotes reaches the app exactly; rollback to v1 brings
    back v1's content and config; scale to 3 answers from three instances; scale to 0 leaves
    no route; scaling back serves again."""
    app = make_app("lifecycle")
    assert app.push("first").returncode == 0
    value = "line one\nsay \"hi\" and 'bye'"
    app.cli("env", "set", f"GREETING={value}")
    eventually(lambda: live_release(app) == 2, "the env change is live as v2")
    assert platform.via_fabio(app.name, "/env/GREETING").json()["value"] == value
    assert platform.via_fabio(app.name).json()["release"] == "v2"

    app.cli("rollback", "1")
    eventually(lambda: live_release(app) == 3, "the rollback is live as v3")
    assert platform.via_fabio(app.name).json()["release"] == "v3"
    assert platform.via_fabio(app.name, "/env/GREETING").json()["value"] is None
    assert platform.via_fabio(app.name).json()["content"] == "first"

    app.cli("scale", "3")

    def three_instances() -> bool:
        seen = {platform.via_fabio(app.name).json()["instance"] for _ in range(30)}
        return len(seen) == 3

    eventually(three_instances, "responses from three distinct instances", timeout=90)

    app.cli("scale", "0")
    eventually(lambda: platform.via_fabio(app.name).status_code == 404, "no route at 0")

    app.cli("scale", "1")
    eventually(lambda: platform.via_fabio(app.name).status_code == 200, "serving again")


def test_a_killed_container_is_restarted_and_the_route_recovers(
    make_app: Callable[[str], App], platform: Platform
) -> None:
    """``docker kill`` of the app's container: Nomad restarts it and the app answers again
    through Fabio with no operator involved."""
    app = make_app("selfheal")
    assert app.push("alive").returncode == 0
    nomad = httpx.Client(
        base_url=platform.stack.nomad.address, headers=platform.stack.nomad.headers
    )
    (alloc,) = [
        a
        for a in nomad.get(f"/v1/job/paastech-{app.name}/allocations").json()
        if a["ClientStatus"] == "running"
    ]
    containers = subprocess.run(
        ["docker", "ps", "-q", "--filter", f"label=com.hashicorp.nomad.alloc_id={alloc['ID']}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert len(containers) == 1
    subprocess.run(["docker", "kill", containers[0]], capture_output=True, check=True)
    eventually(
        lambda: platform.via_fabio(app.name).status_code != 200, "the kill is noticed", timeout=15
    )
    eventually(lambda: platform.via_fabio(app.name).status_code == 200, "the route recovers")
    assert platform.via_fabio(app.name).json()["content"] == "alive"


def test_a_job_removed_behind_the_platforms_back_is_registered_again(
    make_app: Callable[[str], App], platform: Platform
) -> None:
    """An operator purges the app's job in Nomad and scales nothing: the scheduler's sweep
    (which skips projects that did not change) notices the job is gone, registers the live
    release again, and the app answers through Fabio with its content."""
    app = make_app("regone")
    assert app.push("still here").returncode == 0
    nomad = httpx.Client(
        base_url=platform.stack.nomad.address, headers=platform.stack.nomad.headers
    )
    time.sleep(7)  # two sweeps have seen the project unchanged: the next one would skip it
    job = f"/v1/job/paastech-{app.name}"
    first = nomad.get(job).json()["CreateIndex"]
    nomad.delete(job, params={"purge": "true"}).raise_for_status()
    eventually(
        lambda: nomad.get(job).status_code == 200 and nomad.get(job).json()["CreateIndex"] > first,
        "the job is registered again",
        timeout=30,
    )
    eventually(lambda: platform.via_fabio(app.name).status_code == 200, "the app is back", 60)
    assert platform.via_fabio(app.name).json()["content"] == "still here"
    assert live_release(app) == 1


def test_a_scheduler_killed_mid_deploy_ends_the_release_live_after_restart(
    make_app: Callable[[str], App], platform: Platform
) -> None:
    """SIGKILL of the scheduler while a release deploys: the supervising ``all`` process
    stops the platform; started again, the release ends ``live`` — never stuck."""
    app = make_app("restart")
    assert app.push("v1").returncode == 0
    app.cli("env", "set", "X=1")  # release v2, deploying now
    scheduler = _pid_of(platform, "paastech scheduler")
    os.kill(scheduler, signal.SIGKILL)
    platform.restart()

    def v2_live() -> bool:
        releases = json.loads(app.cli("releases", "--json"))
        return releases[0]["version"] == 2 and releases[0]["status"] == "live"

    eventually(v2_live, "v2 ends live after the restart", timeout=120)
    assert platform.via_fabio(app.name).json()["release"] == "v2"


def live_release(app: App) -> int | None:
    """The version ``paastech releases`` shows as live."""
    listed = json.loads(app.cli("releases", "--json"))
    return next((r["version"] for r in listed if r["status"] == "live"), None)


def _pid_of(platform: Platform, what: str) -> int:
    found = subprocess.run(["pgrep", "-f", what], capture_output=True, text=True, check=False)
    mine = [int(pid) for pid in found.stdout.split() if platform.owns(int(pid))]
    assert len(mine) == 1, (found.stdout, what)
    return mine[0]
