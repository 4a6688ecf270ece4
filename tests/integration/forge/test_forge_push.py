"""Pushing and cloning through the forge with the real git and ssh clients."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from forge_harness import (
    Forge,
    StartForge,
    commit,
    head_of,
    new_worktree,
    remote_head,
    run,
)

from paastech.db.tables import Build
from paastech.forge.builds import NOMAD_MISSING

pytestmark = pytest.mark.integration


async def test_push_then_clone_returns_the_pushed_history(forge: Forge, tmp_path: Path) -> None:
    """What a user pushes to main comes back, commit for commit, from git clone."""
    user = await forge.user("alice")
    await forge.project(user, "hello")
    work = await new_worktree(user, tmp_path / "work", {"README.md": "hi\n"})
    second = await commit(user, work, {"app.py": "print('x')\n"}, "second")

    pushed = await user.git("push", user.remote("hello"), "main", cwd=work)
    clone = await user.git("clone", "-q", user.remote("hello"), str(tmp_path / "clone"))

    assert clone.status == 0, clone.stderr
    log = await user.git("log", "--format=%H %s", cwd=tmp_path / "clone")
    assert log.stdout.splitlines()[0] == f"{second} second"
    assert len(log.stdout.splitlines()) == 2
    assert "remote: -----> Building hello (main" in pushed.stderr


async def test_push_to_main_records_a_build_and_shows_the_honest_failure(
    forge: Forge, tmp_path: Path
) -> None:
    """A push to main stores the code, records a failed Build and exits non-zero, saying why."""
    user = await forge.user()
    project_id = await forge.project(user, "web")
    work = await new_worktree(user, tmp_path / "w", {"index.html": "<h1>hi</h1>\n"})
    sha = await head_of(user, work)

    pushed = await user.git("push", user.remote("web"), "main", cwd=work)

    assert pushed.status != 0
    assert f"remote: -----> Building web (main {sha[:7]})" in pushed.stderr
    assert "remote: -----> Static site detected" in pushed.stderr
    assert f"remote: ! Build failed: {NOMAD_MISSING}" in pushed.stderr
    assert " * [new branch]      main -> main" in pushed.stderr
    builds = await Build.select().where(Build.project == project_id)
    assert [(b["number"], b["status"], b["commit_sha"], b["error"]) for b in builds] == [
        (1, "failed", sha, NOMAD_MISSING)
    ]
    assert "Building web" in builds[0]["log"]
    assert await remote_head(user, "web") == sha


async def test_non_fast_forward_push_is_refused_as_git_refuses_it(
    forge: Forge, tmp_path: Path
) -> None:
    """A push that would drop someone else's commit is rejected and main stays where it was."""
    user = await forge.user()
    await forge.project(user, "shared")
    first = await new_worktree(user, tmp_path / "a", {"a.txt": "a\n"})
    await user.git("push", "-q", user.remote("shared"), "main", cwd=first)
    ahead = await commit(user, first, {"a.txt": "a2\n"}, "ahead")
    await user.git("push", "-q", user.remote("shared"), "main", cwd=first)
    other = await new_worktree(user, tmp_path / "b", {"b.txt": "b\n"})

    refused = await user.git("push", user.remote("shared"), "main", cwd=other)

    assert refused.status != 0
    assert "! [rejected]        main -> main (fetch first)" in refused.stderr
    assert await remote_head(user, "shared") == ahead


async def test_push_to_another_branch_is_stored_and_not_deployed(
    forge: Forge, tmp_path: Path
) -> None:
    """A feature branch is kept in the repository, no Build is recorded, the pusher is told."""
    user = await forge.user()
    project_id = await forge.project(user, "feature-app")
    work = await new_worktree(user, tmp_path / "w", {"index.html": "x\n"})
    sha = await head_of(user, work)

    pushed = await user.git("push", user.remote("feature-app"), "main:topic", cwd=work)

    assert pushed.status == 0, pushed.stderr
    assert (
        f"remote: -----> branch topic stored at {sha[:7]} (not deployed: only main is built)"
        in pushed.stderr
    )
    assert await Build.count().where(Build.project == project_id) == 0
    remote = await user.git("ls-remote", user.remote("feature-app"))
    assert f"{sha}\trefs/heads/topic" in remote.stdout


async def test_builds_disabled_stores_main_and_exits_zero(
    start_forge: StartForge, tmp_path: Path
) -> None:
    """With build.enabled = false a push to main is stored, says so, and succeeds."""
    forge = await start_forge(build={"enabled": False})
    user = await forge.user()
    project_id = await forge.project(user, "quiet")
    work = await new_worktree(user, tmp_path / "w", {"index.html": "x\n"})

    pushed = await user.git("push", user.remote("quiet"), "main", cwd=work)

    assert pushed.status == 0, pushed.stderr
    assert "builds are disabled on this forge" in pushed.stderr
    assert await Build.count().where(Build.project == project_id) == 0


async def test_nothing_runnable_fails_the_build_naming_the_files_looked_for(
    forge: Forge, tmp_path: Path
) -> None:
    """A commit with nothing the platform can run fails its build and lists what it looked for."""
    user = await forge.user()
    project_id = await forge.project(user, "empty-app")
    work = await new_worktree(user, tmp_path / "w", {"notes.txt": "nothing here\n"})

    pushed = await user.git("push", user.remote("empty-app"), "main", cwd=work)

    assert pushed.status != 0
    assert "remote: ! Build failed: no Dockerfile and nothing recognised to run" in pushed.stderr
    for name in ("Dockerfile", "paastech.toml", "Procfile", "package.json", "index.html"):
        assert name in pushed.stderr
    build = await Build.select().where(Build.project == project_id).first()
    assert build is not None
    assert build["status"] == "failed"
    assert "looked for Dockerfile" in build["error"]


async def test_ten_concurrent_pushes_to_ten_projects_are_all_stored_and_recorded(
    forge: Forge, tmp_path: Path
) -> None:
    """Pushes do not serialise across projects, and none is lost."""
    user = await forge.user()
    names = [f"app-{i:02d}" for i in range(10)]
    works = {}
    for name in names:
        await forge.project(user, name)
        works[name] = await new_worktree(user, tmp_path / name, {"index.html": name})

    results = await asyncio.gather(
        *(user.git("push", user.remote(name), "main", cwd=works[name]) for name in names)
    )

    for name, result in zip(names, results, strict=True):
        assert f"Building {name} (main" in result.stderr, result.stderr
        sha = await head_of(user, works[name])
        assert await remote_head(user, name) == sha
        rows = await Build.select(Build.number, Build.commit_sha).where(
            Build.project == user.projects[name]
        )
        assert rows == [{"number": 1, "commit_sha": sha}]


async def test_two_pushes_to_one_project_number_builds_in_order(
    forge: Forge, tmp_path: Path
) -> None:
    """Each push of main records the project's next build number against its own commit."""
    user = await forge.user()
    project_id = await forge.project(user, "counter")
    work = await new_worktree(user, tmp_path / "w", {"index.html": "1"})
    await user.git("push", "-q", user.remote("counter"), "main", cwd=work)
    second = await commit(user, work, {"index.html": "2"}, "two")
    await user.git("push", "-q", user.remote("counter"), "main", cwd=work)

    rows = (
        await Build.select(Build.number, Build.commit_sha)
        .where(Build.project == project_id)
        .order_by(Build.number)
    )

    assert [r["number"] for r in rows] == [1, 2]
    assert rows[1]["commit_sha"] == second


async def test_large_push_and_clone_round_trip_byte_for_byte(forge: Forge, tmp_path: Path) -> None:
    """Megabytes each way survive the channel's flow control intact."""
    user = await forge.user()
    await forge.project(user, "bulky")
    work = await new_worktree(user, tmp_path / "w", {"index.html": "x"})
    payload = os.urandom(12 * 1024 * 1024)
    (work / "blob.bin").write_bytes(payload)
    await commit(user, work, {}, "bulk")

    pushed = await user.git("push", user.remote("bulky"), "main", cwd=work)
    cloned = await user.git("clone", "-q", user.remote("bulky"), str(tmp_path / "c"))

    assert " * [new branch]      main -> main" in pushed.stderr, pushed.stderr
    assert cloned.status == 0, cloned.stderr
    assert (tmp_path / "c" / "blob.bin").read_bytes() == payload


async def test_clone_speaks_protocol_v2(forge: Forge, tmp_path: Path) -> None:
    """The client's GIT_PROTOCOL reaches upload-pack, so fetches use protocol v2."""
    user = await forge.user()
    await forge.project(user, "modern")
    work = await new_worktree(user, tmp_path / "w", {"index.html": "x"})
    await user.git("push", "-q", user.remote("modern"), "main", cwd=work)
    env = {**user.env(), "GIT_TRACE_PACKET": "1"}

    cloned = await run(
        "git",
        "-c",
        "protocol.version=2",
        "clone",
        user.remote("modern"),
        str(tmp_path / "c"),
        env=env,
    )

    assert cloned.status == 0, cloned.stderr
    assert "clone< version 2" in cloned.stderr


async def test_simultaneous_pushes_to_one_project_are_both_applied(
    forge: Forge, tmp_path: Path
) -> None:
    """Two pushes racing to one project (different branches) are applied one after the other."""
    user = await forge.user()
    await forge.project(user, "racy")
    one = await new_worktree(user, tmp_path / "one", {"a.txt": "a"})
    two = await new_worktree(user, tmp_path / "two", {"b.txt": "b"})

    results = await asyncio.gather(
        user.git("push", user.remote("racy"), "main:one", cwd=one),
        user.git("push", user.remote("racy"), "main:two", cwd=two),
    )

    assert [r.status for r in results] == [0, 0], [r.stderr for r in results]
    refs = (await user.git("ls-remote", user.remote("racy"))).stdout
    for work, branch in ((one, "one"), (two, "two")):
        sha = await head_of(user, work)
        assert f"{sha}\trefs/heads/{branch}" in refs
        assert any(f"branch {branch} stored at {sha[:7]}" in r.stderr for r in results)
