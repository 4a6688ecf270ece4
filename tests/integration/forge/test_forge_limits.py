"""Pack size, repository size and idle limits: refused clearly, repository unchanged."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest
from forge_harness import StartForge, commit, new_worktree, snapshot

from paastech.db.tables import Build

pytestmark = pytest.mark.integration


async def test_oversized_push_is_refused_and_the_repository_is_unchanged(
    start_forge: StartForge, tmp_path: Path
) -> None:
    """A pack over forge.max_pack_bytes is rejected by git in quarantine; nothing is kept."""
    forge = await start_forge(forge={"max_pack_bytes": 64 * 1024})
    user = await forge.user()
    project_id = await forge.project(user, "small")
    work = await new_worktree(user, tmp_path / "w", {"index.html": "ok\n"})
    first = await user.git("push", "-q", user.remote("small"), "main", cwd=work)
    assert "Building small" in first.stderr
    repo = forge.repos.path(project_id)
    before = snapshot(repo)
    (work / "blob.bin").write_bytes(os.urandom(300 * 1024))  # incompressible
    await commit(user, work, {}, "big")

    pushed = await user.git("push", user.remote("small"), "main", cwd=work)

    assert pushed.status != 0
    assert "remote: ! push refused:" in pushed.stderr
    assert "pack-size limit of 65536 bytes" in pushed.stderr
    assert snapshot(repo) == before
    assert await Build.count().where(Build.project == project_id) == 1


async def test_full_repository_refuses_more_pushes(start_forge: StartForge, tmp_path: Path) -> None:
    """Once a repository reaches forge.max_repo_bytes, a push is refused before receiving."""
    forge = await start_forge(forge={"max_repo_bytes": 200 * 1024}, build={"enabled": False})
    user = await forge.user()
    project_id = await forge.project(user, "capped")
    work = await new_worktree(user, tmp_path / "w", {"index.html": "ok\n"})
    (work / "a.bin").write_bytes(os.urandom(150 * 1024))
    await commit(user, work, {}, "a")
    first = await user.git("push", "-q", user.remote("capped"), "main", cwd=work)
    assert first.status == 0, first.stderr
    repo = forge.repos.path(project_id)
    (work / "b.bin").write_bytes(os.urandom(150 * 1024))
    await commit(user, work, {}, "b")
    before = snapshot(repo)

    pushed = await user.git("push", user.remote("capped"), "main", cwd=work)

    assert pushed.status != 0
    assert "repository limit of 204800 bytes" in pushed.stderr or "repository is full" in (
        pushed.stderr
    )
    assert snapshot(repo) == before


async def test_idle_session_times_out(start_forge: StartForge) -> None:
    """A session that moves no bytes is closed after forge.idle_timeout_seconds."""
    forge = await start_forge(forge={"idle_timeout_seconds": 1})
    user = await forge.user()
    await forge.project(user, "sleepy")
    argv = [
        "ssh",
        *user.ssh_options(),
        "-p",
        str(forge.port),
        "git@127.0.0.1",
        "git-upload-pack '/sleepy.git'",
    ]
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=user.env(),
    )
    # stdin stays open and silent: upload-pack waits for wants that never come.
    status = await asyncio.wait_for(proc.wait(), 20)
    elapsed = time.monotonic() - started
    assert proc.stdin is not None
    assert proc.stderr is not None
    proc.stdin.close()
    stderr = (await proc.stderr.read()).decode()

    assert status != 0
    assert 1 <= elapsed < 10
    assert "! idle for 1 s; closing the connection" in stderr
