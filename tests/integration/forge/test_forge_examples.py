"""The examples a new user pushes are detected as what they are, through the real forge."""

from __future__ import annotations

import asyncio
import shutil
import socket
import sys
import urllib.request
from pathlib import Path

import pytest
from forge_harness import Forge, commit

from paastech.db.tables import Build
from paastech.forge.builds import NOMAD_MISSING

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"

DETECTED = {
    "dockerfile-app": "Dockerfile detected",
    "python-app": "Python app detected",
    "node-app": "Node.js app detected",
    "static-site": "Static site detected",
    "python-function": "Python function main:handle detected",
}

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(("example", "detected"), DETECTED.items())
async def test_each_example_is_detected_when_pushed(
    forge: Forge, tmp_path: Path, example: str, detected: str
) -> None:
    """Pushing an example reads its commit and names what will be built, then fails honestly."""
    user = await forge.user()
    name = f"ex-{example}"[:40]
    kind = "function" if example == "python-function" else "container"
    project_id = await forge.project(user, name, kind)
    work = tmp_path / example
    await asyncio.to_thread(shutil.copytree, EXAMPLES / example, work)
    assert (await user.git("init", "-q", "-b", "main", cwd=work)).status == 0
    await commit(user, work, {}, "example")

    pushed = await user.git("push", user.remote(name), "main", cwd=work)

    assert f"remote: -----> {detected}" in pushed.stderr, pushed.stderr
    assert f"remote: ! Build failed: {NOMAD_MISSING}" in pushed.stderr
    build = await Build.select(Build.status).where(Build.project == project_id).first()
    assert build == {"status": "failed"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("example", ["python-app/app.py", "dockerfile-app/server.py"])
async def test_python_examples_serve_http_on_port(example: str) -> None:
    """The Python examples listen on $PORT at $HOST and answer GET / (run without Docker)."""
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLES / example),
        env={"PORT": str(port), "HOST": "127.0.0.1"},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        body = ""
        for _ in range(100):
            try:
                body = await asyncio.to_thread(_get, f"http://127.0.0.1:{port}/")
                break
            except OSError:
                await asyncio.sleep(0.05)
        assert "Hello from" in body
    finally:
        proc.terminate()
        await proc.wait()


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback URL
        return str(response.read().decode())
