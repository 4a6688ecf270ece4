"""The benchmarks' reference router (``refproxy/main.go``): Go's standard reverse proxy to
one address, built once per source version into the binary cache, run with Fabio's dev
runtime settings (``GOMAXPROCS=1``, ``GOGC=400``) so the two differ only in what Fabio does
per request. Used by ``deploy_bench.py`` (router overhead) and ``functions_bench.py``
(warm requests) as the floor a proxy hop costs on the machine."""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from paastech.infra.binaries import cache_root

SOURCE = Path(__file__).resolve().parent / "refproxy"


def binary() -> Path:
    """The built reference proxy, built now if this source version is not cached."""
    digest = hashlib.sha256()
    for name in ("go.mod", "main.go"):
        digest.update((SOURCE / name).read_bytes())
    path = cache_root() / "bin" / f"refproxy-{digest.hexdigest()[:12]}"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        env = {**os.environ, "CGO_ENABLED": "0"}
        subprocess.run(["go", "build", "-o", str(partial), "."], cwd=SOURCE, env=env, check=True)
        partial.rename(path)
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def running(target: str) -> Iterator[tuple[str, int]]:
    """A reference proxy in front of ``target`` (``host:port``): yields its address and pid."""
    listen = f"127.0.0.1:{_free_port()}"
    env = {**os.environ, "GOMAXPROCS": "1", "GOGC": "400"}
    proc = subprocess.Popen(
        [str(binary()), "-listen", listen, "-target", target],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        host, port = listen.rsplit(":", 1)
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection((host, int(port)), 0.2):
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"refproxy did not start on {listen}")
            time.sleep(0.02)
        yield listen, proc.pid
    finally:
        proc.terminate()
        proc.wait(10)
