"""Base images: built locally, reused when their recipe is unchanged, usable FROM a build."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from paastech.infra.images import ensure_images

pytestmark = pytest.mark.integration


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


APP = """\
import http.server, os

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"hello from paastech/python"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
"""


def _docker(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def _image_id(ref: str) -> str:
    return _docker("image", "inspect", "--format", "{{.Id}}", ref).stdout.strip()


def test_unchanged_recipes_are_not_rebuilt(base_images: dict[str, str]) -> None:
    """A second provisioning run with the same recipes builds nothing and keeps every image."""
    before = {name: _image_id(ref) for name, ref in base_images.items()}

    again = ensure_images(dict(os.environ))

    assert [r.built for r in again] == [False, False, False]
    assert {r.name: _image_id(r.reference) for r in again} == before
    for name, ref in base_images.items():
        assert _image_id(ref.rsplit(":", 1)[0] + ":latest") == before[name]


def test_node_image_runs_node_and_npm(base_images: dict[str, str]) -> None:
    """paastech/node has a working node and npm."""
    proc = _docker(
        "run",
        "--rm",
        "--network",
        "host",
        base_images["node"],
        "sh",
        "-c",
        "node --version && npm --version",
    )

    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("v")


def test_build_from_python_image_serves_http(base_images: dict[str, str], tmp_path: Path) -> None:
    """A `docker build` FROM paastech/python produces a container answering HTTP on loopback."""
    (tmp_path / "app.py").write_text(APP)
    (tmp_path / "Dockerfile").write_text(
        'FROM paastech/python:latest\nCOPY app.py /app/app.py\nCMD ["python3", "/app/app.py"]\n'
    )
    tag = f"paastech-test/pyapp:{uuid.uuid4().hex[:8]}"
    build = subprocess.run(
        ["docker", "build", "--network", "host", "-t", tag, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "DOCKER_BUILDKIT": "0"},
    )
    assert build.returncode == 0, build.stdout + build.stderr
    port = free_port()
    name = f"paastech-test-{uuid.uuid4().hex[:8]}"
    run = _docker("run", "-d", "--name", name, "--network", "host", "-e", f"PORT={port}", tag)
    try:
        assert run.returncode == 0, run.stderr
        body = _get_eventually(f"http://127.0.0.1:{port}/")
        assert body == "hello from paastech/python"
    finally:
        _docker("rm", "-f", name)
        _docker("rmi", "-f", tag)


def _get_eventually(url: str, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - loopback
                return str(resp.read().decode())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
