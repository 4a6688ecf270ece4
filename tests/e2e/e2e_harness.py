"""End-to-end harness: the real platform processes, and users at their own terminals.

:func:`start_platform` runs ``paastech-server migrate`` then ``paastech-server all`` as
subprocesses against a throwaway database and returns their cleanup; a :class:`User` drives
them only through the ``paastech`` CLI, ``git`` and ``ssh``, each a subprocess with the
user's own HOME. Nothing here reaches into the server's internals.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

from paastech.infra.postgres import APP_ROLE, app_password_file
from paastech.settings import DbSettings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_APP = ROOT / "examples" / "python-app"
STARTUP_SECONDS = 60.0
COMMAND_SECONDS = 120.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


Require = Callable[[str, str], None]


def _tool(name: str, require: Require) -> str:
    """A program next to this interpreter (the venv's console scripts), else on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        require(name, f"no `{name}` executable next to {sys.executable} or on PATH")
    return str(found)


@dataclass(frozen=True)
class Platform:
    """A running ``paastech-server all``: where to reach it and where it keeps its state."""

    api_url: str
    forge_port: int
    state_dir: Path
    log_path: Path
    cli: str

    def server_log(self) -> str:
        """What the server processes printed so far (for failure messages)."""
        return self.log_path.read_text(errors="replace")


def start_platform(
    db: DbSettings, password_path: Path, work: Path, require: Require
) -> tuple[Platform, Callable[[], None]]:
    """Migrate the database, start gateway, forge and scheduler; return them and their cleanup.

    The cleanup stops the whole process group (``all`` and its three children).
    """
    server = _tool("paastech-server", require)
    cli = _tool("paastech", require)
    for program in ("git", "ssh", "ssh-keygen"):
        _tool(program, require)
    state_dir = work / "state"
    state_dir.mkdir()
    gateway_port, forge_port, feed_port = _free_port(), _free_port(), _free_port()
    env = {
        **os.environ,
        "PAASTECH_STATE_DIR": str(state_dir),
        "PAASTECH_DB__HOST": db.host,
        "PAASTECH_DB__PORT": str(db.port),
        # As in the dev stack: the least-privilege role at run time, the owner for migrate.
        "PAASTECH_DB__USER": APP_ROLE,
        "PAASTECH_DB__PASSWORD_FILE": str(app_password_file(password_path.parent)),
        "PAASTECH_DB__MIGRATE_USER": db.user,
        "PAASTECH_DB__MIGRATE_PASSWORD_FILE": str(password_path),
        "PAASTECH_DB__DATABASE": db.database,
        "PAASTECH_GATEWAY__HOST": "127.0.0.1",
        "PAASTECH_GATEWAY__PORT": str(gateway_port),
        "PAASTECH_FORGE__HOST": "127.0.0.1",
        "PAASTECH_FORGE__PUBLIC_HOST": "127.0.0.1",
        "PAASTECH_FORGE__PORT": str(forge_port),
        # A free port for the build jobs' source URLs: the dev stack's forge may hold 2223.
        "PAASTECH_FORGE__ARCHIVE_PORT": "0",
        "PAASTECH_FABIO__ROUTE_FEED_HOST": "127.0.0.1",
        "PAASTECH_FABIO__ROUTE_FEED_PORT": str(feed_port),
        "PAASTECH_FABIO__ROUTE_FEED_SECRET": secrets.token_urlsafe(16),
        "PAASTECH_SECRETS__ENV_KEY": Fernet.generate_key().decode(),
        "PYTHONUNBUFFERED": "1",
    }
    migrated = subprocess.run(
        [server, "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=COMMAND_SECONDS,
        check=False,
    )
    assert migrated.returncode == 0, migrated.stderr
    log_path = work / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [server, "all"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: the cleanup stops the children too
        )

    def stop() -> None:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        # Children that outlived ``all`` (it died first) must not leak either.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)

    platform = Platform(f"http://127.0.0.1:{gateway_port}", forge_port, state_dir, log_path, cli)
    try:
        _wait_until_up(platform, proc, feed_port)
    except BaseException:
        stop()
        raise
    return platform, stop


def _wait_until_up(platform: Platform, proc: subprocess.Popen[bytes], feed_port: int) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(
                f"paastech-server all exited with {proc.returncode}:\n{platform.server_log()}"
            )
        try:
            healthy = httpx.get(f"{platform.api_url}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            healthy = False
        if healthy and _port_open(platform.forge_port) and _port_open(feed_port):
            return
        time.sleep(0.2)
    pytest.fail(f"the platform did not come up in {STARTUP_SECONDS:g} s:\n{platform.server_log()}")


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@dataclass
class User:
    """A person at a terminal: their own HOME, SSH key and the ``paastech`` CLI."""

    platform: Platform
    home: Path
    email: str
    password: str = field(default_factory=lambda: f"pw-{uuid.uuid4().hex}")

    @property
    def ssh_key(self) -> Path:
        return self.home / ".ssh" / "id_ed25519"

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of this user's shell: nothing of the tester's HOME leaks in."""
        keep = {k: v for k, v in os.environ.items() if k in {"PATH", "LANG", "LC_ALL", "TMPDIR"}}
        ssh = (
            f"ssh -i {self.ssh_key} -o StrictHostKeyChecking=no"
            " -o UserKnownHostsFile=/dev/null -o IdentitiesOnly=yes -o LogLevel=ERROR"
        )
        return {
            **keep,
            "HOME": str(self.home),
            "XDG_CONFIG_HOME": str(self.home / ".config"),
            "PAASTECH_API_URL": self.platform.api_url,
            "GIT_SSH_COMMAND": ssh,
            "GIT_AUTHOR_NAME": self.email,
            "GIT_AUTHOR_EMAIL": self.email,
            "GIT_COMMITTER_NAME": self.email,
            "GIT_COMMITTER_EMAIL": self.email,
            "GIT_CONFIG_NOSYSTEM": "1",
            "NO_COLOR": "1",
            "COLUMNS": "200",
            **extra,
        }

    def run(
        self,
        *args: str,
        cwd: Path | None = None,
        stdin: str | None = None,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run a program (``paastech``, ``git``, ``ssh-keygen`` …) as this user."""
        program = self.platform.cli if args[0] == "paastech" else args[0]
        return subprocess.run(
            [program, *args[1:]],
            cwd=cwd or self.home,
            env=env or self.env(),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=COMMAND_SECONDS,
            check=False,
        )

    def ok(self, *args: str, cwd: Path | None = None, stdin: str | None = None) -> str:
        """Run and require exit 0; the standard output."""
        done = self.run(*args, cwd=cwd, stdin=stdin)
        assert done.returncode == 0, (
            f"{' '.join(args)} exited {done.returncode}\nstdout: {done.stdout}\n"
            f"stderr: {done.stderr}\nserver log (tail):\n{self.platform.server_log()[-4000:]}"
        )
        return done.stdout

    def keygen(self) -> Path:
        """An ed25519 key pair at ~/.ssh/id_ed25519; the public key's path."""
        self.ssh_key.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.ok(
            "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", self.email, "-f", str(self.ssh_key)
        )
        return self.ssh_key.with_suffix(".pub")

    def app_repo(self, name: str) -> Path:
        """A fresh git repository holding a copy of the Python example, one commit on main."""
        repo = self.home / name
        shutil.copytree(EXAMPLE_APP, repo)
        self.ok("git", "init", "-q", "-b", "main", cwd=repo)
        self.ok("git", "add", ".", cwd=repo)
        self.ok("git", "commit", "-q", "-m", "first", cwd=repo)
        return repo
