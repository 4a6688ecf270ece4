"""End-to-end harness: the real platform processes, and users at their own terminals.

:func:`start_platform` runs ``paastech-server migrate`` then ``paastech-server all`` as
subprocesses against a throwaway database and returns their cleanup; a :class:`User` drives
them only through the ``paastech`` CLI, ``git`` and ``ssh``, each a subprocess with the
user's own HOME. Nothing here reaches into the server's internals.
"""

from __future__ import annotations

import asyncio
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

import asyncpg
import httpx
import msgspec
import pytest
from components import NomadAgent, RegistryAuth
from cryptography.fernet import Fernet

from paastech import releases
from paastech.infra.fabio import ensure_fabio
from paastech.infra.postgres import APP_ROLE, app_password_file
from paastech.settings import DbSettings, FabioSettings, load_settings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_APP = ROOT / "examples" / "python-app"
STARTUP_SECONDS = 60.0
CLEANUP_SECONDS = 90.0
COMMAND_SECONDS = 120.0


def eventually(check: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    """Wait (bounded) for something the control loop does after a commit."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if check():
                return
        time.sleep(0.25)
    raise AssertionError(f"not within {timeout:g} s: {what}")


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
class Stack:
    """The real components a platform runs on (from the session's fixtures)."""

    nomad: NomadAgent
    registry: RegistryAuth
    fabio_binary: Path


@dataclass(frozen=True)
class Platform:
    """A running ``paastech-server all``: where to reach it and where it keeps its state."""

    api_url: str
    forge_port: int
    state_dir: Path
    log_path: Path
    cli: str
    proxy_port: int
    """Fabio's proxy port: apps answer at ``http://<project>.apps.localhost:<proxy_port>``."""
    stack: Stack
    db: DbSettings
    server: ServerProcess
    fabio: FabioSettings | None = None
    """The Fabio's settings (its route feed and secret): a benchmark starts a second one."""

    def restart(self) -> None:
        """Stop whatever is left of ``paastech-server all`` and start it again."""
        self.server.stop()
        self.server.start(self)

    def owns(self, pid: int) -> bool:
        """True when ``pid`` is one of this platform's server processes."""
        proc = self.server.proc
        try:
            return proc is not None and os.getpgid(pid) == proc.pid
        except ProcessLookupError:
            return False

    def app_url(self, project: str) -> str:
        return f"http://{project}.apps.localhost:{self.proxy_port}"

    def via_fabio(self, project: str, path: str = "/", timeout: float = 5.0) -> httpx.Response:
        """GET ``path`` of the project's app through Fabio, by Host header."""
        return httpx.get(
            f"http://127.0.0.1:{self.proxy_port}{path}",
            headers={"Host": f"{project}.apps.localhost:{self.proxy_port}"},
            timeout=timeout,
        )

    def server_log(self) -> str:
        """What the server processes printed so far (for failure messages)."""
        return self.log_path.read_text(errors="replace")


def start_platform(
    db: DbSettings, password_path: Path, work: Path, require: Require, stack: Stack
) -> tuple[Platform, Callable[[], None]]:
    """Migrate the database, start gateway, forge and scheduler, and a Fabio reading their
    route feed; return them and their cleanup.

    The cleanup stops the whole process group (``all`` and its three children) and Fabio.
    """
    server = _tool("paastech-server", require)
    cli = _tool("paastech", require)
    for program in ("git", "ssh", "ssh-keygen"):
        _tool(program, require)
    state_dir = work / "state"
    state_dir.mkdir()
    gateway_port, forge_port, feed_port = _free_port(), _free_port(), _free_port()
    proxy_port, ui_port, activator_port = _free_port(), _free_port(), _free_port()
    feed_secret = secrets.token_urlsafe(16)
    fabio_settings = msgspec.structs.replace(
        load_settings({}).fabio,
        proxy_addr=f"127.0.0.1:{proxy_port}",
        ui_addr=f"127.0.0.1:{ui_port}",
        route_feed_port=feed_port,
        route_feed_secret=feed_secret,
    )
    fabio = ensure_fabio(
        work, fabio_settings, {"FABIO_BIN": str(stack.fabio_binary)}, name="fabio-e2e"
    )
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
        "PAASTECH_FABIO__ROUTE_FEED_SECRET": feed_secret,
        "PAASTECH_FABIO__PROXY_ADDR": f"127.0.0.1:{proxy_port}",
        "PAASTECH_FABIO__UI_ADDR": f"127.0.0.1:{ui_port}",
        "PAASTECH_NOMAD__ADDRESS": stack.nomad.address,
        "PAASTECH_NOMAD__TOKEN": stack.nomad.token,
        "PAASTECH_REGISTRY__ADDRESS": stack.registry.address,
        "PAASTECH_REGISTRY__USERNAME": stack.registry.username,
        "PAASTECH_REGISTRY__PASSWORD": stack.registry.password,
        "PAASTECH_SCHEDULER__SWEEP_SECONDS": "3",
        "PAASTECH_SCHEDULER__ACTIVATOR_PORT": str(activator_port),
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
    server_process = ServerProcess([server, "all"], env, log_path, feed_port)

    def stop() -> None:
        try:
            if server_process.proc is not None:
                asyncio.run(remove_every_project(db))
        finally:
            server_process.stop()
            fabio.stop()

    platform = Platform(
        f"http://127.0.0.1:{gateway_port}",
        forge_port,
        state_dir,
        log_path,
        cli,
        proxy_port,
        stack,
        db,
        server_process,
        fabio_settings,
    )
    try:
        server_process.start(platform)
    except BaseException:
        stop()
        raise
    return platform, stop


async def remove_every_project(db: DbSettings) -> None:
    """Delete what the tests left, as a user's delete does (outbox rows in the delete's
    transaction), and wait for the platform to remove their jobs, images and repositories:
    a test run leaves nothing in Nomad or the registry."""
    conn = await asyncpg.connect(db.dsn())
    try:
        async with conn.transaction():
            for row in await conn.fetch("SELECT id, name FROM projects"):
                for kind in (releases.REMOVE_APP, releases.REMOVE_REPO):
                    await conn.execute(
                        "INSERT INTO outbox (kind, project_id, project_name) VALUES ($1, $2, $3)",
                        kind,
                        row["id"],
                        row["name"],
                    )
            await conn.execute("DELETE FROM projects")
            await conn.execute("SELECT pg_notify($1, '')", releases.OUTBOX_CHANNEL)
        deadline = time.monotonic() + CLEANUP_SECONDS
        while time.monotonic() < deadline:
            if not await conn.fetchval("SELECT count(*) FROM outbox WHERE done_at IS NULL"):
                return
            await asyncio.sleep(0.5)
        left = await conn.fetch(
            "SELECT kind, project_name, last_error FROM outbox WHERE done_at IS NULL"
        )
        raise AssertionError(f"the platform did not clean up after the tests: {left}")
    finally:
        await conn.close()


@dataclass
class ServerProcess:
    """``paastech-server all`` in its own process group, which a test may kill and restart."""

    argv: list[str]
    env: dict[str, str]
    log_path: Path
    feed_port: int
    proc: subprocess.Popen[bytes] | None = None

    def start(self, platform: Platform) -> None:
        """Start it (again) and wait until gateway, forge and feed answer."""
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self.argv,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group: stopping it stops the children
            )
        _wait_until_up(platform, self.proc, self.feed_port)

    def stop(self) -> None:
        proc = self.proc
        if proc is None:
            return
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
        self.proc = None


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


def user_factory(
    platform: Platform, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], User]:
    """Make users with an empty HOME (not signed up yet), each with an email of its own."""

    def make(label: str) -> User:
        home = tmp_path_factory.mktemp(f"home-{label}")
        return User(platform, home, f"{label}-{uuid.uuid4().hex[:6]}@example.com")

    return make


@dataclass(frozen=True)
class Onboarded:
    """A user who signed up, logged in and added an SSH key, with what each step printed."""

    user: User
    signup: subprocess.CompletedProcess[str]
    login: subprocess.CompletedProcess[str]
    key_path: Path
    key_added: subprocess.CompletedProcess[str]


@dataclass(frozen=True)
class Pushed:
    """A project created inside a fresh repository of the Python example, then pushed."""

    repo: Path
    head: str
    created: subprocess.CompletedProcess[str]
    push: subprocess.CompletedProcess[str]


def onboard(user: User) -> Onboarded:
    """Sign up, log in again (as on a second machine) and register ~/.ssh/id_ed25519.pub."""
    password = user.password + "\n"
    signup = user.run(
        "paastech", "signup", "--email", user.email, "--password-stdin", stdin=password
    )
    login = user.run("paastech", "login", "--email", user.email, "--password-stdin", stdin=password)
    key_path = user.keygen()
    key_added = user.run("paastech", "keys", "add", str(key_path))
    return Onboarded(user, signup, login, key_path, key_added)


def create_and_push(user: User, name: str) -> Pushed:
    """``projects create NAME`` inside a new repository of the example, then push ``main``."""
    repo = user.app_repo(name)
    created = user.run("paastech", "projects", "create", name, cwd=repo)
    assert created.returncode == 0, created.stderr
    push = user.run("git", "push", "paastech", "main", cwd=repo)
    head = user.ok("git", "rev-parse", "HEAD", cwd=repo).strip()
    return Pushed(repo, head, created, push)


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    """The CLI's error: exactly one ``Error: …`` line on stderr, nothing on stdout."""
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("Error: "), done.stderr
    assert "Traceback" not in done.stderr
    return lines[0]


def remote_lines(push: subprocess.CompletedProcess[str]) -> list[str]:
    """What the forge wrote to the pushing terminal (git prefixes it with ``remote:``)."""
    return [
        line.removeprefix("remote:").strip()
        for line in push.stderr.splitlines()
        if line.startswith("remote:")
    ]
