"""Detection's Dockerfiles really build and run: each example, on the local base images.

This is what a build backend will do with a push (minus Nomad, which this test does not
need): export the commit with :func:`export_source`, ``docker build --network host`` it,
run the image with host networking on a loopback ``$PORT`` and ask it for ``/``.
"""

from __future__ import annotations

import asyncio
import urllib.request
import uuid
from pathlib import Path

import pytest
from imagebuild import GIT, committed_copy, container_logs, docker_cleanup, free_port
from imagebuild import docker as docker_sync

from paastech.forge.detect import detect
from paastech.forge.repos import source_tree
from paastech.forge.source import export_source

pytestmark = pytest.mark.integration
__all__ = ["docker_cleanup"]  # the fixture, used by name

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


async def docker(*args: str, stdin: bytes | None = None) -> str:
    return await asyncio.to_thread(docker_sync, *args, stdin=stdin)


def committed_example(tmp_path: Path, example: str) -> tuple[Path, str]:
    """The example as a one-commit repository: (its git dir, the commit sha)."""
    return committed_copy(EXAMPLES / example, tmp_path / example)


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
    docker_cleanup: list[list[str]],
    example: str,
    answer: str,
) -> None:
    """The image built from the example's exported context serves HTTP on $PORT."""
    git_dir, sha = committed_example(tmp_path, example)
    plan = detect(source_tree(git_dir, sha))
    context = await export_source(GIT, git_dir, sha, plan)
    tag = f"paastech-forge-test/{example}:{uuid.uuid4().hex[:8]}"
    docker_cleanup.append(["rmi", "-f", tag])

    await docker("build", "--network", "host", "-q", "-t", tag, "-", stdin=context)
    port = free_port()
    name = f"paastech-forge-test-{uuid.uuid4().hex[:8]}"
    docker_cleanup.append(["rm", "-f", name])
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
    assert answer in body, await asyncio.to_thread(container_logs, name)


async def test_function_example_builds(
    base_images: dict[str, str], tmp_path: Path, docker_cleanup: list[list[str]]
) -> None:
    """The function image builds (running it needs the shim from the Functions issue)."""
    git_dir, sha = committed_example(tmp_path, "python-function")
    plan = detect(source_tree(git_dir, sha))
    tag = f"paastech-forge-test/python-function:{uuid.uuid4().hex[:8]}"
    docker_cleanup.append(["rmi", "-f", tag])

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
