"""The Docker daemon: used when one answers, else ``dockerd`` started without any bridge.

Without ``--bridge=none --iptables=false`` dockerd would create a private-range bridge and
NAT rules; the dev profile needs neither (containers use host networking, builds use
``--network host``) and the machines this runs on forbid both.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from pathlib import Path

from paastech.errors import ProvisionError
from paastech.infra.process import (
    Running,
    launch,
    run,
    which,
)

DOCKER_SOCKET = Path("/var/run/docker.sock")
DOCKERD_FLAGS = ("--bridge=none", "--iptables=false", "--ip6tables=false")


def daemon_answers(sock: Path = DOCKER_SOCKET, timeout: float = 2.0) -> bool:
    """True when the daemon at ``sock`` answers ``GET /_ping`` with OK."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(timeout)
            conn.connect(str(sock))
            conn.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            reply = b""
            while chunk := conn.recv(4096):
                reply += chunk
    except OSError:
        return False
    return reply.startswith(b"HTTP/1.") and b" 200 " in reply.split(b"\r\n", 1)[0]


def ensure_docker(state_dir: Path, environ: Mapping[str, str], timeout: float = 60.0) -> Running:
    """Use the running daemon, or start ``dockerd`` (data root default, log under state dir).

    Raises:
        ProvisionError: dockerd is not installed, or it did not answer within ``timeout``.
    """
    url = f"unix://{DOCKER_SOCKET}"
    if daemon_answers():
        return Running("docker", url, started_here=False)
    dockerd = which("dockerd", "/usr/sbin", "/usr/bin")
    if dockerd is None:
        raise ProvisionError("dockerd not found; install the docker.io package")
    return launch(
        "docker",
        [dockerd, *DOCKERD_FLAGS],
        state_dir=state_dir,
        url=url,
        ready=daemon_answers,
        environ=environ,
        timeout=timeout,
        log_name="dockerd",
        what="dockerd",
        stop_timeout=30,
    )


def image_exists(reference: str) -> bool:
    """True when the local daemon has an image called ``reference``."""
    return run(["docker", "image", "inspect", reference], check=False).returncode == 0
