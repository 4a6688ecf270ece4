"""Gateway benchmark: authenticated ``GET /api/v1/projects`` (20 projects) against ``/healthz``.

One uvicorn worker serves the gateway on a throwaway database of the private PostgreSQL;
``wrk`` (a separate load process) runs 50 connections on 2 threads against each endpoint
in alternating rounds (3 x 5 s each by default) of the same run, and the JSON written to
``--out`` holds rps (mean of the rounds) and p99 (worst round) of both and their ratio.
Targets (issue 3): DB-backed >= 1,500 rps and >= 0.3x healthz.

    python tests/bench/gateway_bench.py --out bench-gateway.json
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import asyncpg
from argon2 import PasswordHasher

from paastech.crypto import generate_key
from paastech.infra.postgres import ensure_postgres, password_file
from paastech.settings import DbSettings, load_settings

ROOT = Path(__file__).resolve().parents[2]
STATE_DIR = ROOT / ".paastech"
sys.path.insert(0, str(ROOT / "tests"))

from throwaway import create_database, drop_database  # noqa: E402 - after the path set-up

TARGET_RPS = 1500.0
TARGET_RATIO = 0.3
PROJECTS = 20


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def seed(db: DbSettings) -> str:
    """One Client with a token and 20 projects; returns the token."""
    token = "pt_" + secrets.token_urlsafe(32)
    client_id = uuid.uuid4()
    now = dt.datetime.now(dt.UTC)
    conn = await asyncpg.connect(db.dsn())
    try:
        await conn.execute(
            "INSERT INTO clients (id, email, password_hash) VALUES ($1, $2, $3)",
            client_id,
            "bench@example.com",
            PasswordHasher().hash(secrets.token_hex(8)),
        )
        await conn.execute(
            "INSERT INTO api_tokens (id, client, name, kind, token_hash, expires_at)"
            " VALUES ($1, $2, 'bench', 'api', $3, $4)",
            uuid.uuid4(),
            client_id,
            hashlib.sha256(token.encode()).hexdigest(),
            now + dt.timedelta(days=1),
        )
        for i in range(PROJECTS):
            await conn.execute(
                "INSERT INTO projects (id, client, name) VALUES ($1, $2, $3)",
                uuid.uuid4(),
                client_id,
                f"bench-app-{i:02d}",
            )
    finally:
        await conn.close()
    return token


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gateway exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - loopback http
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("gateway did not become ready")


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def parse_wrk(output: str) -> dict[str, Any]:
    """rps, p50/p99 latency (ms) and error counts from ``wrk --latency`` output."""
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    latency: dict[str, float] = {}
    for pct in ("50", "99"):
        found = re.search(rf"^\s+{pct}(?:\.000)?%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
        if found:
            latency[pct] = round(float(found.group(1)) * _UNITS[found.group(2)], 3)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket_errors = re.search(r"Socket errors:(.*)", output)
    requests = re.search(r"(\d+) requests in", output)
    return {
        "rps": round(rps, 1),
        "p50_ms": latency.get("50"),
        "p99_ms": latency.get("99"),
        "requests": int(requests.group(1)) if requests else None,
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": socket_errors.group(1).strip() if socket_errors else "",
    }


def run_wrk(url: str, seconds: int, headers: dict[str, str]) -> dict[str, Any]:
    cmd = ["wrk", "-t2", "-c50", f"-d{seconds}s", "--latency", "--timeout", "5s"]
    for name, value in headers.items():
        cmd += ["-H", f"{name}: {value}"]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    return parse_wrk(out)


def combine(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """One endpoint's rounds as one figure: mean rps, worst p50/p99, summed counts."""
    return {
        "rps": round(sum(r["rps"] for r in rounds) / len(rounds), 1),
        "p50_ms": max(r["p50_ms"] or 0.0 for r in rounds),
        "p99_ms": max(r["p99_ms"] or 0.0 for r in rounds),
        "requests": sum(r["requests"] or 0 for r in rounds),
        "non_2xx": sum(r["non_2xx"] for r in rounds),
        "socket_errors": "; ".join(r["socket_errors"] for r in rounds if r["socket_errors"]),
        "rounds_rps": [r["rps"] for r in rounds],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="JSON file to write")
    parser.add_argument("--seconds", type=int, default=5, help="wrk duration per round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per endpoint")
    args = parser.parse_args(argv)

    base = load_settings({}).db
    STATE_DIR.mkdir(exist_ok=True)
    running = ensure_postgres(STATE_DIR, base)
    admin = load_settings({"PAASTECH_DB__PASSWORD_FILE": str(password_file(STATE_DIR))}).db
    bench_db = asyncio.run(create_database(admin, "bench"))
    port = free_port()
    env = {
        **os.environ,
        "PAASTECH_DB__DATABASE": bench_db.database,
        "PAASTECH_DB__PASSWORD_FILE": str(password_file(STATE_DIR)),
        "PAASTECH_GATEWAY__PORT": str(port),
        "PAASTECH_SECRETS__ENV_KEY": generate_key(),
    }
    proc: subprocess.Popen[bytes] | None = None
    try:
        token = asyncio.run(seed(bench_db))
        proc = subprocess.Popen([sys.executable, "-m", "paastech.gateway"], env=env, cwd=ROOT)
        base_url = f"http://127.0.0.1:{port}"
        wait_ready(f"{base_url}/healthz", proc)
        auth = {"Authorization": f"Bearer {token}"}
        request = urllib.request.Request(f"{base_url}/api/v1/projects", headers=auth)  # noqa: S310 - loopback http
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - loopback http
            listed = json.loads(response.read())
        assert len(listed) == PROJECTS, f"expected {PROJECTS} projects, got {len(listed)}"
        run_wrk(f"{base_url}/healthz", 2, {})  # warm-up
        run_wrk(f"{base_url}/api/v1/projects", 2, auth)
        # Alternating rounds: a machine that speeds up or slows down during the run (a
        # shared host does) then weighs on both endpoints alike instead of on one.
        rounds: dict[str, list[dict[str, Any]]] = {"healthz": [], "projects": []}
        for _ in range(args.rounds):
            rounds["healthz"].append(run_wrk(f"{base_url}/healthz", args.seconds, {}))
            rounds["projects"].append(run_wrk(f"{base_url}/api/v1/projects", args.seconds, auth))
        healthz, projects = combine(rounds["healthz"]), combine(rounds["projects"])
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=15)
        asyncio.run(drop_database(admin, bench_db.database))
        running.stop()
    ratio = round(projects["rps"] / healthz["rps"], 3) if healthz["rps"] else 0.0
    result = {
        "gateway": {
            "setup": {
                "workers": 1,
                "connections": 50,
                "threads": 2,
                "seconds_per_round": args.seconds,
                "rounds": args.rounds,
                "projects": PROJECTS,
                "cpus": os.cpu_count(),
            },
            "projects_list": projects,
            "healthz": healthz,
            "ratio": ratio,
            "targets": {"projects_rps": TARGET_RPS, "ratio": TARGET_RATIO},
            "met": projects["rps"] >= TARGET_RPS
            and ratio >= TARGET_RATIO
            and projects["non_2xx"] == 0,
        }
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
