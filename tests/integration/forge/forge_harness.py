"""Forge test harness: real ssh/git clients driven from asyncio, users and projects as rows.

Every git or ssh client runs as an asyncio subprocess: the server lives in the test's own
event loop, so a blocking ``subprocess.run`` would deadlock it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from paastech.db.tables import Client, Project, SshKey
from paastech.forge.repos import GitRepoStore
from paastech.settings import Settings


@dataclass(frozen=True)
class Result:
    """What a client command did: its exit status and both output streams."""

    status: int
    stdout: str
    stderr: str

    @property
    def bang_lines(self) -> list[str]:
        """The ``!``-prefixed refusal lines on stderr."""
        return [line for line in self.stderr.splitlines() if line.startswith("!")]


async def run(
    *argv: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    stdin: bytes | None = None,
    deadline: float = 60,
) -> Result:
    """Run a client command to completion without blocking the event loop."""
    proc = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        env=env,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin), deadline)
    assert proc.returncode is not None
    return Result(proc.returncode, out.decode(errors="replace"), err.decode(errors="replace"))


@dataclass
class User:
    """A Client with one SSH key, and the git/ssh environment that uses it."""

    client_id: uuid.UUID
    key: Path
    port: int
    home: Path
    projects: dict[str, uuid.UUID] = field(default_factory=dict)

    def ssh_options(self) -> list[str]:
        return [
            "-i",
            str(self.key),
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            "LogLevel=ERROR",
            "-F",
            "/dev/null",
        ]

    def ssh_command(self) -> str:
        return " ".join(["ssh", *self.ssh_options(), "-p", str(self.port)])

    def env(self) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "GIT_SSH_COMMAND": self.ssh_command(),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_AUTHOR_NAME": "Test",
            "GIT_AUTHOR_EMAIL": "test@example.invalid",
            "GIT_COMMITTER_NAME": "Test",
            "GIT_COMMITTER_EMAIL": "test@example.invalid",
            "LC_ALL": "C",
        }

    def remote(self, project: str) -> str:
        return f"ssh://git@127.0.0.1:{self.port}/{project}.git"

    async def git(self, *args: str, cwd: Path | None = None) -> Result:
        return await run("git", *args, cwd=cwd, env=self.env())

    async def ssh(self, command: str | None, *extra: str, stdin: bytes | None = None) -> Result:
        argv = ["ssh", *self.ssh_options(), "-p", str(self.port), *extra, "git@127.0.0.1"]
        if command is not None:
            argv.append(command)
        return await run(*argv, env=self.env(), stdin=stdin, deadline=30)


async def make_key(folder: Path) -> tuple[Path, str, str]:
    """A fresh ed25519 key pair: (private key path, public key line, SHA256 fingerprint)."""
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    key = folder / "id_ed25519"
    made = await run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "t", "-f", str(key))
    assert made.status == 0, made.stderr
    listed = await run("ssh-keygen", "-l", "-f", f"{key}.pub")
    fingerprint = listed.stdout.split()[1]
    assert fingerprint.startswith("SHA256:")
    return key, (folder / "id_ed25519.pub").read_text().strip(), fingerprint


@dataclass
class Forge:
    """A running forge and how to make users and projects for it."""

    settings: Settings
    port: int
    tmp: Path
    repos: GitRepoStore

    async def user(self, name: str = "") -> User:
        name = name or uuid.uuid4().hex[:8]
        home = self.tmp / f"user-{name}"
        key, public, fingerprint = await make_key(home / ".ssh")
        client = Client(
            id=uuid.uuid4(),
            email=f"{name}@example.invalid",
            password_hash="x",
            created_at=dt.datetime.now(dt.UTC),
        )
        await client.save()
        await SshKey(
            id=uuid.uuid4(),
            client=client.id,
            name="laptop",
            public_key=public,
            key_type="ssh-ed25519",
            fingerprint=fingerprint,
            created_at=dt.datetime.now(dt.UTC),
        ).save()
        return User(client_id=client.id, key=key, port=self.port, home=home)

    async def project(self, owner: User, name: str, kind: str = "container") -> uuid.UUID:
        """A project of ``owner`` (its kind must agree with a pushed paastech.toml)."""
        now = dt.datetime.now(dt.UTC)
        project = Project(
            id=uuid.uuid4(),
            client=owner.client_id,
            name=name,
            kind=kind,
            created_at=now,
            updated_at=now,
        )
        await project.save()
        self.repos.create(project.id)
        owner.projects[name] = project.id
        return project.id


async def new_worktree(user: User, folder: Path, files: dict[str, str]) -> Path:
    """A fresh local repository on ``main`` with one commit of ``files``."""
    await asyncio.to_thread(folder.mkdir, parents=True)
    assert (await user.git("init", "-q", "-b", "main", cwd=folder)).status == 0
    await commit(user, folder, files, "first")
    return folder


async def commit(user: User, folder: Path, files: dict[str, str], message: str) -> str:
    """Write ``files`` and commit them; returns the new commit's sha."""
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert (await user.git("add", "-A", cwd=folder)).status == 0
    done = await user.git("commit", "-q", "-m", message, cwd=folder)
    assert done.status == 0, done.stderr
    return await head_of(user, folder)


async def head_of(user: User, folder: Path) -> str:
    """The sha of HEAD in the local repository ``folder``."""
    done = await user.git("rev-parse", "HEAD", cwd=folder)
    assert done.status == 0, done.stderr
    return done.stdout.strip()


async def remote_head(user: User, project: str, ref: str = "refs/heads/main") -> str:
    """The sha the forge holds for ``ref`` of ``project`` (over ssh); "" when it has none."""
    listed = await user.git("ls-remote", user.remote(project), ref)
    assert listed.status == 0, listed.stderr
    return listed.stdout.split()[0] if listed.stdout.strip() else ""


StartForge = Callable[..., Coroutine[Any, Any, Forge]]


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every path under ``root``; files with their size and mtime (nanoseconds).

    Directory mtimes are left out on purpose: git creates and removes its quarantine
    directory inside ``objects/`` even for a refused push, which touches only that.
    """
    found: dict[str, tuple[int, int]] = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            found[str(Path(folder, name).relative_to(root))] = (-1, -1)
        for name in files:
            path = Path(folder, name)
            stat = path.lstat()
            found[str(path.relative_to(root))] = (stat.st_size, stat.st_mtime_ns)
    return found
