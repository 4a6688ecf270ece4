"""Repositories on disk: made with the project, inert (no hook runs), host key kept."""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

import pygit2
import pytest
from forge_harness import Forge, StartForge, new_worktree, run

from paastech.forge.repos import GitRepoStore
from paastech.forge.server import start_server

pytestmark = pytest.mark.integration


def test_repo_store_creates_bare_repos_on_main_and_deletes_them(tmp_path: Path) -> None:
    """create() makes a bare repo whose HEAD is main (idempotently); delete() removes it."""
    store = GitRepoStore.for_state_dir(tmp_path)
    project_id = uuid.uuid4()

    store.create(project_id)
    store.create(project_id)
    repo = pygit2.Repository(str(store.path(project_id)))

    assert store.path(project_id) == tmp_path / "repos" / f"{project_id}.git"
    assert repo.is_bare
    assert repo.head_is_unborn
    assert (store.path(project_id) / "HEAD").read_text() == "ref: refs/heads/main\n"
    assert sorted(p.name for p in (tmp_path / "repos").iterdir()) == [f"{project_id}.git"]
    store.delete(project_id)
    store.delete(project_id)
    assert not store.exists(project_id)
    assert list((tmp_path / "repos").iterdir()) == []


async def test_hooks_in_the_repository_never_run(forge: Forge, tmp_path: Path) -> None:
    """Even a hook planted in the bare repo's own hooks/ is ignored: no repo code runs."""
    user = await forge.user()
    project_id = await forge.project(user, "hooked")
    marker = tmp_path / "hook-ran"
    for hook in ("pre-receive", "update", "post-receive", "post-update", "reference-transaction"):
        path = forge.repos.path(project_id) / "hooks" / hook
        path.write_text(f"#!/bin/sh\ntouch {marker}\n")
        path.chmod(0o755)
    work = await new_worktree(user, tmp_path / "w", {"index.html": "x"})

    pushed = await user.git("push", user.remote("hooked"), "main", cwd=work)
    cloned = await user.git("clone", "-q", user.remote("hooked"), str(tmp_path / "c"))

    assert "Building hooked" in pushed.stderr
    assert cloned.status == 0
    assert not await asyncio.to_thread(os.path.lexists, marker)


async def test_an_empty_project_clones_empty(forge: Forge, tmp_path: Path) -> None:
    """Cloning a project nobody pushed to yet works and yields an empty repository."""
    user = await forge.user()
    await forge.project(user, "fresh")

    cloned = await user.git("clone", user.remote("fresh"), str(tmp_path / "c"))

    assert cloned.status == 0, cloned.stderr
    assert "cloned an empty repository" in cloned.stderr


async def host_key(port: int) -> str:
    """The ed25519 host key a server on ``port`` presents (base64 blob)."""
    scanned = await run("ssh-keyscan", "-t", "ed25519", "-p", str(port), "127.0.0.1")
    return scanned.stdout.split()[-1]


async def test_the_host_key_survives_a_restart(start_forge: StartForge) -> None:
    """Users see the same host key after the forge restarts (it is kept in the state dir)."""
    first = await start_forge()
    before = await host_key(first.port)
    restarted = await start_server(first.settings)  # same state dir, new process state
    other_state = await start_forge()

    try:
        after = await host_key(restarted.sockets[0].getsockname()[1])
    finally:
        restarted.close()

    key_file = Path(first.settings.state_dir) / "forge" / "ssh_host_ed25519_key"
    assert after == before
    assert await host_key(other_state.port) != before
    assert key_file.stat().st_mode & 0o777 == 0o600


async def test_branch_and_tag_changes_are_reported(forge: Forge, tmp_path: Path) -> None:
    """Tags are stored, deleted branches are reported; neither starts a build."""
    user = await forge.user()
    await forge.project(user, "tagged")
    work = await new_worktree(user, tmp_path / "w", {"index.html": "x"})
    await user.git("push", "-q", user.remote("tagged"), "main", "main:topic", cwd=work)
    await user.git("tag", "v1", cwd=work)

    tagged = await user.git("push", user.remote("tagged"), "v1", cwd=work)
    deleted = await user.git("push", user.remote("tagged"), ":topic", cwd=work)

    assert tagged.status == 0, tagged.stderr
    assert "remote: -----> tag v1 stored at" in tagged.stderr
    assert deleted.status == 0, deleted.stderr
    assert "remote: -----> branch topic deleted" in deleted.stderr
    assert "Building" not in tagged.stderr + deleted.stderr
