"""Functions benchmark: cold starts, warm requests and the cost of idle functions.

(a) Cold start: a function pushed through the forge (``examples/python-function``, idle
    timeout 10 s) is let sleep and woken by one request through Fabio, ``--wakes`` times
    (>= 20); p50/p95 of request → 200, against ``docker run`` → first 200 of the same image
    (host network, the shim's env) in the same run, alternating. Targets: p50 <= 1.0 s,
    p95 <= 1.5 s, p50 ratio <= 2.0. The median wake's breakdown (``cold_starts``) is reported.
(b) Warm: p50 of a GET through Fabio against the same GET straight to the instance
    (target ratio <= 1.2), and, as a reference in the same rounds, through Go's standard
    reverse proxy alone (``refproxy.py``): what one more Go hop costs on this machine.
(c) Idle cost: 50 more function projects registered asleep (their jobs at count 0); the
    scheduler process's CPU (share of one core over 30 s) and RSS (target CPU < 3 %).

Real components, loopback only; the e2e harness starts ``paastech-server all`` and its Fabio.
``python tests/bench/functions_bench.py --out functions.json`` (runs itself under pytest to
reuse the session's fixtures).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "e2e")]

from components import require  # noqa: E402
from e2e_harness import (  # noqa: E402
    Platform,
    Stack,
    User,
    eventually,
    onboard,
    start_platform,
    user_factory,
)
from refproxy import running as reference_proxy  # noqa: E402

from paastech.infra.postgres import password_file  # noqa: E402
from paastech.settings import DbSettings  # noqa: E402

EXAMPLE = ROOT / "examples" / "python-function"
OUT_ENV = "PAASTECH_FUNCTIONS_BENCH_OUT"
WAKES_ENV = "PAASTECH_FUNCTIONS_BENCH_WAKES"


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def platform(
    test_db: DbSettings,
    state_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
    *,
    nomad_agent: object,
    registry_auth: object,
    fabio_binary: Path,
) -> Iterator[Platform]:
    running, stop = start_platform(
        test_db,
        password_file(state_dir),
        tmp_path_factory.mktemp("platform"),
        require,
        Stack(nomad_agent, registry_auth, fabio_binary),  # type: ignore[arg-type]
    )
    yield running
    stop()


def _nomad(platform: Platform) -> httpx.Client:
    nomad = platform.stack.nomad
    return httpx.Client(base_url=nomad.address, headers=nomad.headers, timeout=10)


def _running(platform: Platform, name: str) -> list[dict[str, object]]:
    allocs = _nomad(platform).get(f"/v1/job/paastech-{name}/allocations").json()
    return [a for a in allocs if a["ClientStatus"] == "running" and a["DesiredStatus"] == "run"]


def _wanted(platform: Platform, name: str) -> list[dict[str, object]]:
    allocs = _nomad(platform).get(f"/v1/job/paastech-{name}/allocations").json()
    live = {"pending", "running"}
    return [a for a in allocs if a["DesiredStatus"] == "run" and a["ClientStatus"] in live]


def _docker_run_to_200(image: str) -> float:
    port, control = _free_port(), _free_port()
    name = f"bench-{uuid.uuid4().hex[:8]}"
    started = time.monotonic()
    subprocess.run(
        ["docker", "run", "-d", "--rm", "--name", name, "--network", "host",
         "-e", f"PORT={port}", "-e", "HOST=127.0.0.1", "-e", f"PAASTECH_CONTROL_PORT={control}",
         image],
        check=True, capture_output=True,
    )  # fmt: skip
    try:
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/", timeout=1).status_code == 200:
                    return time.monotonic() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.01)
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)


def _scheduler_pid(platform: Platform) -> int:
    out = subprocess.run(
        ["ps", "-eo", "pid,pgid,args"], capture_output=True, text=True, check=True
    ).stdout
    assert platform.server.proc is not None
    group = platform.server.proc.pid
    for line in out.splitlines()[1:]:
        pid, pgid, args = line.split(None, 2)
        if int(pgid) == group and "scheduler" in args:
            return int(pid)
    raise AssertionError(f"no scheduler process in group {group}:\n{out}")


def _cpu_and_rss(pid: int, seconds: float) -> tuple[float, int]:
    tick = os.sysconf("SC_CLK_TCK")

    def cpu() -> float:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / tick

    before, t0 = cpu(), time.monotonic()
    time.sleep(seconds)
    used, elapsed = cpu() - before, time.monotonic() - t0
    rss_kb = next(
        int(line.split()[1])
        for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        if line.startswith("VmRSS:")
    )
    return used / elapsed, rss_kb * 1024


async def _register_idle(db: DbSettings, source: str, count: int) -> None:
    """``count`` more function projects, asleep, each with a live release of ``source``'s
    image: the scheduler registers their jobs at count 0 and routes them to the activator."""
    conn = await asyncpg.connect(db.dsn())
    try:
        base = await conn.fetchrow(
            "SELECT p.client, r.image, r.digest, r.config FROM projects p"
            " JOIN releases r ON r.project = p.id WHERE p.name = $1 AND r.status = 'live'",
            source,
        )
        for i in range(count):
            pid = uuid.uuid4()
            await conn.execute(
                "INSERT INTO projects (id, client, name, kind, scale_to_zero, asleep,"
                " idle_timeout, status, current_release, created_at, updated_at)"
                " VALUES ($1, $2, $3, 'function', true, true, 10, 'running', 1, now(), now())",
                pid, base["client"], f"idle-{i:02d}",
            )  # fmt: skip
            await conn.execute(
                "INSERT INTO releases (id, project, version, image, digest, config, status,"
                " created_at) VALUES ($1, $2, 1, $3, $4, $5, 'live', now())",
                uuid.uuid4(), pid, base["image"], base["digest"], base["config"],
            )  # fmt: skip
            await conn.execute("SELECT pg_notify('paastech_reconcile', $1)", str(pid))
    finally:
        await conn.close()


@pytest.mark.timeout(1800)
def test_measure(platform: Platform, new_user: Callable[[str], User], test_db: DbSettings) -> None:
    """Measure (a), (b), (c) and write the JSON report."""
    user = onboard(new_user("bench")).user
    name = "fn-bench"
    repo = user.home / name
    subprocess.run(["cp", "-r", str(EXAMPLE), str(repo)], check=True)
    for argv in (["git", "init", "-q", "-b", "main"], ["git", "add", "."],
                 ["git", "commit", "-q", "-m", "bench"]):  # fmt: skip
        user.ok(*argv, cwd=repo)
    user.ok("paastech", "projects", "create", name, "--kind", "function", cwd=repo)
    user.ok("paastech", "projects", "update", "--idle-timeout", "10", cwd=repo)
    assert user.run("git", "push", "paastech", "main", cwd=repo).returncode == 0
    alloc = _nomad(platform).get(f"/v1/allocation/{_running(platform, name)[0]['ID']}").json()
    image = alloc["Job"]["TaskGroups"][0]["Tasks"][0]["Config"]["image"]

    # (b) warm: through Fabio vs straight to the instance.
    port = next(
        p["Value"] for p in alloc["AllocatedResources"]["Shared"]["Ports"] if p["Label"] == "http"
    )
    host = {"Host": f"{name}.apps.localhost:{platform.proxy_port}"}
    warm_paths = {
        "fabio": (f"http://127.0.0.1:{platform.proxy_port}/", host),
        "direct": (f"http://127.0.0.1:{port}/", {}),
    }
    warm: dict[str, list[float]] = {label: [] for label in [*warm_paths, "go_reference_proxy"]}
    with reference_proxy(f"127.0.0.1:{port}") as (ref, _), httpx.Client(timeout=5) as client:
        warm_paths["go_reference_proxy"] = (f"http://{ref}/", {})
        time.sleep(3)  # the route goes straight to the instance once Nomad reports it healthy
        for _ in range(300):
            for label, (url, headers) in warm_paths.items():
                t = time.perf_counter()
                client.get(url, headers=headers)
                warm[label].append(time.perf_counter() - t)
    via, direct, reference = warm["fabio"], warm["direct"], warm["go_reference_proxy"]

    # (a) cold starts vs docker run.
    wakes, runs = [], []
    for _ in range(int(os.environ.get(WAKES_ENV, "20"))):
        runs.append(_docker_run_to_200(image))
        # Asleep: no allocation Nomad still means to run (one it calls pending may answer).
        eventually(lambda: not _wanted(platform, name), "asleep", 60)
        time.sleep(0.5)
        t = time.monotonic()
        r = platform.via_fabio(name, timeout=40)
        wakes.append(time.monotonic() - t)
        assert r.status_code == 200, r.text
        assert "X-PaaSTech-Cold-Start" in r.headers, r.headers

    async def breakdowns() -> list[dict[str, object]]:
        conn = await asyncpg.connect(test_db.dsn())
        try:
            rows = await conn.fetch(
                "SELECT c.* FROM cold_starts c JOIN projects p ON p.id = c.project"
                " WHERE p.name = $1 ORDER BY c.total_ms",
                name,
            )
            return [{k: v for k, v in dict(r).items() if k.endswith("_ms")} for r in rows]
        finally:
            await conn.close()

    rows = asyncio.run(breakdowns())

    # (c) idle cost.
    asyncio.run(_register_idle(test_db, name, 50))
    time.sleep(15)  # registered at count 0 and routed to the activator
    cpu, rss = _cpu_and_rss(_scheduler_pid(platform), 30.0)

    p50_wake, p50_run = statistics.median(wakes), statistics.median(runs)
    p95_wake = _p(wakes, 0.95)
    warm_ratio = statistics.median(via) / statistics.median(direct)
    report = {
        "cold_start": {
            "wakes": len(wakes),
            "p50_s": round(p50_wake, 3),
            "p95_s": round(p95_wake, 3),
            "docker_run_p50_s": round(p50_run, 3),
            "docker_run_p95_s": round(_p(runs, 0.95), 3),
            "ratio_p50": round(p50_wake / p50_run, 2),
            "targets": {"p50_s": 1.0, "p95_s": 1.5, "ratio_p50": 2.0},
            "meets_targets": p50_wake <= 1.0 and p95_wake <= 1.5 and p50_wake / p50_run <= 2.0,
            "samples_s": [round(w, 3) for w in wakes],
            "docker_run_samples_s": [round(r, 3) for r in runs],
            "median_breakdown_ms": rows[len(rows) // 2] if rows else None,
        },
        "warm": {
            "fabio_p50_ms": round(statistics.median(via) * 1000, 3),
            "direct_p50_ms": round(statistics.median(direct) * 1000, 3),
            "ratio_p50": round(warm_ratio, 2),
            "go_reference_proxy_p50_ms": round(statistics.median(reference) * 1000, 3),
            "go_reference_proxy_ratio_p50": round(
                statistics.median(reference) / statistics.median(direct), 2
            ),
            "target_ratio": 1.2,
            "meets_target": warm_ratio <= 1.2,
        },
        "idle": {
            "functions": 50,
            "scheduler_cpu_share_of_core": round(cpu, 4),
            "scheduler_rss_mb": round(rss / 2**20, 1),
            "target_cpu": 0.03,
            "meets_target": cpu < 0.03,
        },
    }
    Path(os.environ[OUT_ENV]).write_text(json.dumps(report, indent=2) + "\n")


@pytest.fixture(scope="session")
def new_user(platform: Platform, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], User]:
    return user_factory(platform, tmp_path_factory)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--wakes", type=int, default=20)
    args = parser.parse_args()
    env = {**os.environ, OUT_ENV: str(args.out.resolve()), WAKES_ENV: str(max(20, args.wakes))}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", __file__],
        cwd=ROOT, env=env, check=False,
    )  # fmt: skip
    if done.returncode == 0:
        print(args.out.read_text())
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
