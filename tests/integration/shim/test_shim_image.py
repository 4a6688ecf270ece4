"""The function image, built exactly as the forge builds it, serves its handler through the shim.

The example is committed, detected and exported with the forge's own code, built with
``docker build --network host -`` on the local base images, and run with host networking on
a loopback ``$PORT`` (the dev profile's setting). The expected answer is what the example's
handler returns, rendered by the shim's documented conventions, so the test follows the
example if it changes.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from types import ModuleType

import pytest
from imagebuild import GIT, committed_copy, container_logs, docker, docker_cleanup, free_port

from paastech.forge.detect import detect
from paastech.forge.repos import source_tree
from paastech.forge.source import export_source
from paastech.shim import Request
from paastech.shim.request import to_response

pytestmark = pytest.mark.integration
__all__ = ["docker_cleanup"]  # the fixture, used by name

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "python-function"


def get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback URL
            return int(response.status), dict(response.headers), bytes(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


async def wait_for(url: str) -> None:
    for _ in range(300):
        try:
            await asyncio.to_thread(get, url)
        except OSError:
            await asyncio.sleep(0.1)
        else:
            return


def example_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("python_function_example", EXAMPLE / "main.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
async def function_image(
    base_images: dict[str, str], tmp_path: Path, docker_cleanup: list[list[str]]
) -> str:
    """The example function's image, built from its exported commit as the forge would."""
    git_dir, sha = await asyncio.to_thread(committed_copy, EXAMPLE, tmp_path / "python-function")
    plan = detect(source_tree(git_dir, sha))
    context = await export_source(GIT, git_dir, sha, plan)
    tag = f"paastech-shim-test/python-function:{uuid.uuid4().hex[:8]}"
    docker_cleanup.append(["rmi", "-f", tag])
    await asyncio.to_thread(
        docker, "build", "--network", "host", "-q", "-t", tag, "-", stdin=context
    )
    return tag


def run_container(image: str, docker_cleanup: list[list[str]], *env: str) -> str:
    name = f"paastech-shim-test-{uuid.uuid4().hex[:8]}"
    docker_cleanup.append(["rm", "-f", name])
    args = [arg for pair in (("-e", e) for e in env) for arg in pair]
    docker("run", "-d", "--name", name, "--network", "host", *args, image)
    return name


async def test_function_image_answers_the_handlers_output(
    function_image: str, docker_cleanup: list[list[str]]
) -> None:
    """GET on the container's $PORT returns exactly what the example's handler returns."""
    port, control = free_port(), free_port()
    name = run_container(
        function_image,
        docker_cleanup,
        f"PORT={port}",
        "HOST=127.0.0.1",
        f"PAASTECH_CONTROL_PORT={control}",
    )
    await wait_for(f"http://127.0.0.1:{control}/healthz")
    expected = to_response(
        example_module().handle(Request("GET", "/", "name=Ann", [("Host", "x")], b""))
    )

    status, headers, body = await asyncio.to_thread(get, f"http://127.0.0.1:{port}/?name=Ann")
    _, _, counters = await asyncio.to_thread(get, f"http://127.0.0.1:{control}/status")
    logs = await asyncio.to_thread(container_logs, name)

    assert (status, body) == (expected[0], expected[2]), logs
    assert headers["Content-Type"] == dict(expected[1])["Content-Type"]
    assert body == b"Hello, Ann!\n"
    assert json.loads(counters)["requests_total"] == 1


async def test_docker_stop_drains_and_exits_0(
    function_image: str, docker_cleanup: list[list[str]]
) -> None:
    """``docker stop`` (SIGTERM, as Nomad sends) stops the shim cleanly: exit code 0."""
    port = free_port()
    name = run_container(function_image, docker_cleanup, f"PORT={port}", "HOST=127.0.0.1")
    await wait_for(f"http://127.0.0.1:{port}/")

    await asyncio.to_thread(docker, "stop", "-t", "20", name)
    code = await asyncio.to_thread(docker, "inspect", "--format", "{{.State.ExitCode}}", name)
    logs = await asyncio.to_thread(container_logs, name)

    assert code.strip() == "0", logs
    assert "stopped after 1 request(s)" in logs
