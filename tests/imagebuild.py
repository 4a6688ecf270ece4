"""Helpers for tests that commit a source tree and build or run its image with real Docker."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

GIT = shutil.which("git") or "git"
#: A git environment that reads no user or system config and commits as a fixed author.
GIT_ENV = {
    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    "GIT_CONFIG_NOSYSTEM": "1",
    "HOME": "/nonexistent",
    "GIT_AUTHOR_NAME": "T",
    "GIT_AUTHOR_EMAIL": "t@example.invalid",
    "GIT_COMMITTER_NAME": "T",
    "GIT_COMMITTER_EMAIL": "t@example.invalid",
}


def commit_all(work: Path) -> tuple[Path, str]:
    """Make ``work`` a repository with one commit of everything in it: (git dir, sha)."""
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "x"]):
        subprocess.run([GIT, *args], cwd=work, env=GIT_ENV, check=True)
    sha = subprocess.run(
        [GIT, "rev-parse", "HEAD"],
        cwd=work,
        env=GIT_ENV,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return work / ".git", sha


def committed_copy(source: Path, work: Path) -> tuple[Path, str]:
    """A one-commit repository holding a copy of ``source`` at ``work``: (git dir, sha)."""
    shutil.copytree(source, work)
    return commit_all(work)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def docker(*args: str, stdin: bytes | None = None, timeout: float = 600) -> str:
    """Run a docker command; a failure fails the test with the command's output."""
    proc = subprocess.run(
        ["docker", *args],
        input=stdin,
        capture_output=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "DOCKER_BUILDKIT": "0"},  # buildx is not packaged everywhere
    )
    output = (proc.stdout + proc.stderr).decode(errors="replace")
    assert proc.returncode == 0, f"docker {args[0]} failed:\n{output[-3000:]}"
    return proc.stdout.decode(errors="replace")


def container_logs(name: str) -> str:
    """The container's stdout and stderr, then its state (running, exit code, OOM kill)."""
    logs = subprocess.run(["docker", "logs", name], capture_output=True, text=True, check=False)
    state = subprocess.run(
        [
            "docker",
            "inspect",
            "-f",
            "status={{.State.Status}} exit={{.State.ExitCode}} oom={{.State.OOMKilled}}"
            " started={{.State.StartedAt}}",
            name,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    return f"{logs.stdout}{logs.stderr}[{(state.stdout or state.stderr).strip()}]"


@pytest.fixture
def docker_cleanup() -> Iterator[list[list[str]]]:
    """Docker commands run at the end of the test, last first (containers, then images)."""
    commands: list[list[str]] = []
    yield commands
    for command in reversed(commands):
        subprocess.run(["docker", *command], capture_output=True, check=False)
