"""Real processes for the browser tests: the gateway, the dashboard, a throwaway database.

Each starter returns what it started together with its cleanup (a helper that starts a thing
returns its cleanup), and only ever binds 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import asyncpg
import httpx
import msgspec
from paastech import db as dbmod
from paastech.infra.postgres import ensure_postgres, password_file
from paastech.settings import load_settings

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
Cleanup = Callable[[], None]
# A fixed Fernet key: env values in this throwaway database mean nothing.
ENV_KEY = "q3v0m8cJ0y6X1nVw2p7H4sD9fK5tL8bR3eA6uN1zQ0c="


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60.0) -> None:
    """Wait until ``url`` answers below 500; fail with the process log if it dies first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited {proc.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(url, timeout=2.0).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout} s:\n{log.read_text()}")


def _spawn(
    args: list[str], env: dict[str, str], log: Path, cwd: Path
) -> tuple[subprocess.Popen[bytes], Cleanup]:
    with log.open("wb") as out:
        proc = subprocess.Popen(args, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)

    def stop() -> None:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    return proc, stop


def throwaway_database(state_dir: Path) -> tuple[dict[str, str], Cleanup]:
    """A migrated database in the private PostgreSQL cluster: its ``PAASTECH_DB__*`` env."""

    running = ensure_postgres(state_dir, load_settings({}).db)
    env = {"PAASTECH_DB__PASSWORD_FILE": str(password_file(state_dir))}
    server = load_settings(env).db
    name = f"paastech_ui_test_{uuid.uuid4().hex[:8]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(server.dsn("postgres"))
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    asyncio.run(dbmod.migrate(msgspec.structs.replace(server, database=name)))

    def drop() -> None:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        running.stop()

    return {**env, "PAASTECH_DB__DATABASE": name}, drop


def start_gateway(db_env: dict[str, str], state: Path, logs: Path) -> tuple[str, Cleanup]:
    """The real gateway (``paastech-server gateway``: intent in PostgreSQL, instances and
    logs read from Nomad) on a free port: its URL."""
    port = free_port()
    env = {
        **os.environ,
        **db_env,
        "PAASTECH_STATE_DIR": str(state),
        "PAASTECH_GATEWAY__HOST": "127.0.0.1",
        "PAASTECH_GATEWAY__PORT": str(port),
        "PAASTECH_SECRETS__ENV_KEY": ENV_KEY,
    }
    log = logs / "gateway.log"
    state.mkdir(parents=True, exist_ok=True)
    proc, stop = _spawn([sys.executable, "-m", "paastech", "gateway"], env, log, state)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/healthz", proc, log)
    except RuntimeError:
        stop()
        raise
    return url, stop


def start_dashboard(api_url: str, state: Path, logs: Path) -> tuple[str, Cleanup]:
    """``python -m paastech_ui`` on a free port, talking to ``api_url``: its URL."""
    port = free_port()
    args = [
        sys.executable,
        "-m",
        "paastech_ui",
        "--api-url",
        api_url,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--state-dir",
        str(state),
    ]
    # NiceGUI treats a process with PYTEST_* variables as a test run: this one is real.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAASTECH_", "PYTEST_"))}
    log = logs / "dashboard.log"
    state.mkdir(parents=True, exist_ok=True)
    proc, stop = _spawn(args, env, log, state)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/login", proc, log)
    except RuntimeError:
        stop()
        raise
    return url, stop
