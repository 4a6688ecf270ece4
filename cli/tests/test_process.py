"""The CLI as a real process: `python -m paastech_cli`, and Ctrl-C ending `logs -f`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAASTECH_")}
    return {**env, "HOME": str(home), "XDG_CONFIG_HOME": "", **extra}


def test_module_help_runs_in_a_subprocess(tmp_path: Path) -> None:
    """`python -m paastech_cli --help` works and documents the exit codes."""
    done = subprocess.run(
        [sys.executable, "-m", "paastech_cli", "--help"],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Usage: paastech" in done.stdout
    assert "Exit codes" in done.stdout


class _FollowLogs(BaseHTTPRequestHandler):
    """A loopback stand-in for the gateway's followed /logs: one line, then silence."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.end_headers()
        line = {"ts": "2026-11-29T10:00:00Z", "instance": "abc", "stream": "stdout", "line": "up"}
        self.wfile.write((json.dumps(line) + "\n").encode())
        self.wfile.flush()
        time.sleep(30)  # a followed stream stays open until the client leaves

    def log_message(self, *args: object) -> None:
        pass


class _ManyLogs(BaseHTTPRequestHandler):
    """A loopback stand-in for /logs answering far more lines than a pipe reader wants."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.end_headers()
        try:
            for n in range(50_000):
                line = {"ts": "2026-11-29T10:00:00Z", "instance": "a", "stream": "stdout"}
                self.wfile.write((json.dumps({**line, "line": f"l{n}"}) + "\n").encode())
        except OSError:
            pass  # the CLI went away, as it should once its reader did

    def log_message(self, *args: object) -> None:
        pass


def _serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def follow_server() -> Iterator[str]:
    yield from _serve(_FollowLogs)


@pytest.fixture
def many_logs_server() -> Iterator[str]:
    yield from _serve(_ManyLogs)


def test_sigint_ends_logs_follow_with_status_0(tmp_path: Path, follow_server: str) -> None:
    """A real SIGINT during `logs -f` exits 0, prints no traceback, and keeps the lines."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "paastech_cli", "logs", "-f", "-p", "hello"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(tmp_path, PAASTECH_API_URL=follow_server, PAASTECH_TOKEN="t"),
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.rstrip().endswith("up")
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr


@pytest.mark.parametrize("fmt", [(), ("--json",)])
def test_a_reader_leaving_the_pipe_is_not_an_error(
    tmp_path: Path, many_logs_server: str, fmt: tuple[str, ...]
) -> None:
    """`paastech logs | head -1`: exit 0, nothing on stderr."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "paastech_cli", "logs", "-p", "hello", "-n", "10000", *fmt],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(tmp_path, PAASTECH_API_URL=many_logs_server, PAASTECH_TOKEN="t"),
    )
    try:
        assert proc.stdout is not None
        assert proc.stderr is not None
        assert proc.stdout.readline()
        proc.stdout.close()  # what `head -1` does after its line
        stderr = proc.stderr.read().decode()
        proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert stderr == ""
