"""``python -m paastech_shim`` as the image runs it: stdlib only, logs, SIGTERM drain, exit codes.

Each test copies ``src/paastech/shim`` to a temporary ``paastech_shim`` package (as the image
recipe does) and runs it with ``python -S``, so no installed package — ``paastech`` included —
is importable: the shim must stand on the standard library alone.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import paastech.shim

SHIM_SOURCE = Path(paastech.shim.__file__).parent

HANDLERS = """
import time

def handle(request):
    time.sleep(float(request.query.get("sleep", "0")))
    return {"path": request.path}

def boom(request):
    raise RuntimeError("secret-in-traceback")

async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            print("lifespan", message["type"], flush=True)
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"asgi"})
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ShimProcess:
    """A shim subprocess serving the app dir; its ports and output files."""

    proc: subprocess.Popen[bytes]
    port: int
    control_port: int
    stdout: Path
    stderr: Path

    def url(self, path: str, *, control: bool = False) -> str:
        return f"http://127.0.0.1:{self.control_port if control else self.port}{path}"

    def finish(self, timeout: float = 20) -> tuple[int, str, str]:
        """Wait for the exit: (code, stdout, stderr)."""
        code = self.proc.wait(timeout)
        return code, self.stdout.read_text(), self.stderr.read_text()


StartShim = Callable[..., ShimProcess]


def get(url: str, timeout: float = 10) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - loopback
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.fixture
def start_shim(tmp_path: Path) -> Iterator[StartShim]:
    """``start_shim(handler)`` runs the shim on loopback until SIGTERM (killed at teardown)."""
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    (app_dir / "main.py").write_text(HANDLERS)
    shutil.copytree(SHIM_SOURCE, tmp_path / "opt" / "paastech_shim")
    started: list[subprocess.Popen[bytes]] = []

    def start(handler: str, *, wait: bool = True) -> ShimProcess:
        port, control = free_port(), free_port()
        out, err = tmp_path / f"out-{len(started)}", tmp_path / f"err-{len(started)}"
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": str(tmp_path / "opt"),
            "PAASTECH_HANDLER": handler,
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "PAASTECH_CONTROL_PORT": str(control),
        }
        with out.open("wb") as stdout, err.open("wb") as stderr:
            proc = subprocess.Popen(
                [sys.executable, "-S", "-m", "paastech_shim"],
                cwd=app_dir,
                env=env,
                stdout=stdout,
                stderr=stderr,
            )
        started.append(proc)
        shim = ShimProcess(proc, port, control, out, err)
        deadline = time.monotonic() + 20
        while wait and time.monotonic() < deadline and proc.poll() is None:
            try:
                get(shim.url("/healthz", control=True), timeout=1)
                break
            except OSError:
                time.sleep(0.05)
        return shim

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_sigterm_finishes_in_flight_requests_and_exits_0(start_shim: StartShim) -> None:
    """A request running when SIGTERM arrives is answered; then the shim exits 0 and is gone."""
    shim = start_shim("main:handle")
    result: list[tuple[int, bytes]] = []
    slow = threading.Thread(target=lambda: result.append(get(shim.url("/slow?sleep=1.5"))))
    slow.start()
    while get(shim.url("/status", control=True))[1].count(b'"in_flight": 1') == 0:
        time.sleep(0.02)

    shim.proc.send_signal(signal.SIGTERM)
    slow.join(20)
    code, _, stderr = shim.finish()

    assert result == [(200, b'{"path": "/slow"}')]
    assert code == 0, stderr
    with pytest.raises(urllib.error.URLError, match="refused"):
        get(shim.url("/"), timeout=2)


def test_idle_keep_alive_connection_does_not_delay_exit(start_shim: StartShim) -> None:
    """An idle keep-alive connection is closed at SIGTERM instead of holding the shim up."""
    shim = start_shim("main:handle")
    conn = socket.create_connection(("127.0.0.1", shim.port))
    conn.sendall(b"GET /ka HTTP/1.1\r\nHost: x\r\n\r\n")
    answer = b""
    while not answer.endswith(b'{"path": "/ka"}'):
        answer += conn.recv(65536)
    assert answer.startswith(b"HTTP/1.1 200 OK")

    shim.proc.send_signal(signal.SIGTERM)
    code, _, stderr = shim.finish(timeout=10)
    closed = conn.recv(65536)
    conn.close()

    assert code == 0, stderr
    assert closed == b""


def test_handler_traceback_goes_to_stderr_not_the_response(start_shim: StartShim) -> None:
    """A failing handler's traceback is in the project's logs (stderr); the Client sees 500."""
    shim = start_shim("main:boom")

    status, body = get(shim.url("/"))
    shim.proc.send_signal(signal.SIGTERM)
    code, _, stderr = shim.finish()

    assert status == 500
    assert b"secret-in-traceback" not in body
    assert b"Traceback" not in body
    assert "Traceback (most recent call last)" in stderr
    assert "RuntimeError: secret-in-traceback" in stderr
    assert code == 0


def test_asgi_app_runs_with_its_lifespan(start_shim: StartShim) -> None:
    """An ASGI handler is detected, served, and sees lifespan startup and shutdown."""
    shim = start_shim("main:app")

    status, body = get(shim.url("/"))
    shim.proc.send_signal(signal.SIGTERM)
    code, stdout, stderr = shim.finish()

    assert (status, body) == (200, b"asgi")
    assert "serving main:app (asgi)" in stderr
    assert stdout.split() == ["lifespan", "lifespan.startup", "lifespan", "lifespan.shutdown"]
    assert code == 0


@pytest.mark.parametrize(
    ("handler", "message"),
    [
        ("missing:handle", "cannot import 'missing'"),
        ("main:nothing", "has no attribute 'nothing'"),
        ("main:time", "not a callable"),
        ("no-colon", "PAASTECH_HANDLER"),
    ],
)
def test_unloadable_handler_exits_2_with_the_reason(
    start_shim: StartShim, handler: str, message: str
) -> None:
    """A wrong handler setting stops the shim at once with the reason in the logs."""
    shim = start_shim(handler, wait=False)

    code, _, stderr = shim.finish()

    assert code == 2
    assert message in stderr
