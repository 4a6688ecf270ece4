"""Detection's Dockerfiles really build and run: each example, on the local base images.

This is what a build backend will do with a push (minus Nomad, which this test does not
need): export the commit with :func:`export_source`, ``docker build --network host`` it,
run the image with host networking on a loopback ``$PORT`` and ask it for ``/``.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from paastech.forge.detect import detect
from paastech.forge.repos import source_tree
from paastech.forge.source import export_source

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
GIT = shutil.which("git") or "git"
ENV = {
    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    "GIT_CONFIG_NOSYSTEM": "1",
    "HOME": "/nonexistent",
    "GIT_AUTHOR_NAME": "T",
    "GIT_AUTHOR_EMAIL": "t@example.invalid",
    "GIT_COMMITTER_NAME": "T",
    "GIT_COMMITTER_EMAIL": "t@example.invalid",
}


def committed_example(tmp_path: Path, example: str) -> tuple[Path, str]:
    """The example as a one-commit repository: (its git dir, the commit sha)."""
    work = tmp_path / example
    shutil.copytree(EXAMPLES / example, work)
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "x"]):
        subprocess.run([GIT, *args], cwd=work, env=ENV, check=True)
    sha = subprocess.run(
        [GIT, "rev-parse", "HEAD"], cwd=work, env=ENV, check=True, capture_output=True, text=True
    ).stdout.strip()
    return work / ".git", sha


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def docker(*args: str, stdin: bytes | None = None) -> str:
    proc = await asyncio.create_subprocess_exec(
        "docker",
        *args,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "DOCKER_BUILDKIT": "0"},  # buildx is not packaged everywhere
    )
    out, _ = await proc.communicate(stdin)
    text = out.decode(errors="replace")
    assert proc.returncode == 0, f"docker {args[0]} failed:\n{text[-3000:]}"
    return text


@pytest.fixture
def cleanup() -> Iterator[list[list[str]]]:
    """Docker commands to run at the end of the test (remove containers and images)."""
    commands: list[list[str]] = []
    yield commands
    for command in reversed(commands):
        subprocess.run(["docker", *command], capture_output=True, check=False)


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback URL
        return str(response.read().decode())


@pytest.mark.parametrize(
    ("example", "answer"),
    [
        ("python-app", '"message": "Hello from Python"'),
        ("static-site", "Hello from a static site"),
        ("node-app", "Hello from Node"),
        ("dockerfile-app", "Hello from a Dockerfile app"),
    ],
)
async def test_example_builds_and_answers_on_port(
    base_images: dict[str, str],
    tmp_path: Path,
    cleanup: list[list[str]],
    example: str,
    answer: str,
) -> None:
    """The image built from the example's exported context serves HTTP on $PORT."""
    git_dir, sha = committed_example(tmp_path, example)
    plan = detect(source_tree(git_dir, sha))
    context = await export_source(GIT, git_dir, sha, plan)
    tag = f"paastech-forge-test/{example}:{uuid.uuid4().hex[:8]}"
    cleanup.append(["rmi", "-f", tag])

    await docker("build", "--network", "host", "-q", "-t", tag, "-", stdin=context)
    port = free_port()
    name = f"paastech-forge-test-{uuid.uuid4().hex[:8]}"
    cleanup.append(["rm", "-f", name])
    await docker(
        "run",
        "-d",
        "--name",
        name,
        "--network",
        "host",
        "-e",
        f"PORT={port}",
        "-e",
        "HOST=127.0.0.1",
        tag,
    )

    body = ""
    for _ in range(150):
        try:
            body = await asyncio.to_thread(_get, f"http://127.0.0.1:{port}/")
            break
        except OSError:
            await asyncio.sleep(0.1)
    logs = await docker("logs", name)
    assert answer in body, logs


async def test_function_example_builds(
    base_images: dict[str, str], tmp_path: Path, cleanup: list[list[str]]
) -> None:
    """The function image builds (running it needs the shim from the Functions issue)."""
    git_dir, sha = committed_example(tmp_path, "python-function")
    plan = detect(source_tree(git_dir, sha))
    tag = f"paastech-forge-test/python-function:{uuid.uuid4().hex[:8]}"
    cleanup.append(["rmi", "-f", tag])

    await docker(
        "build",
        "--network",
        "host",
        "-q",
        "-t",
        tag,
        "-",
        stdin=await export_source(GIT, git_dir, sha, plan),
    )
    handler = await docker("inspect", "--format", "{{json .Config.Env}}", tag)

    assert "PAASTECH_HANDLER=main:handle" in handler
