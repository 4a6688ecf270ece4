"""The Builder seam: what the forge hands a backend, and how it records what comes back."""

from __future__ import annotations

import asyncio
import os
import signal
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from forge_harness import StartForge, commit, head_of, new_worktree

from paastech.db.tables import Build
from paastech.errors import BuildFailed
from paastech.forge.builds import BuildRequest, BuildResult
from paastech.forge.detect import Kind
from paastech.forge.progress import Progress

pytestmark = pytest.mark.integration


@dataclass
class GatedBuilder:
    """A stand-in backend (the real one needs Nomad): streams output, waits for a gate."""

    gate: asyncio.Event = field(default_factory=asyncio.Event)
    started: asyncio.Queue[BuildRequest] = field(default_factory=asyncio.Queue)
    fail_with: str = ""

    async def build(self, request: BuildRequest, progress: Progress) -> BuildResult:
        await self.started.put(request)
        await progress.output(f"Step 1/2 : FROM paastech/base ({request.plan.kind})")
        await self.gate.wait()
        if self.fail_with:
            await progress.output(self.fail_with)
            raise BuildFailed(self.fail_with)
        await progress.output("Step 2/2 : done")
        image = f"127.0.0.1:5000/{request.project}:{request.number}"
        return BuildResult(image=image, digest=f"sha256:{request.commit_sha[:12]}")


async def test_a_successful_build_records_image_digest_and_log(
    start_forge: StartForge, tmp_path: Path
) -> None:
    """The backend's output streams to the pusher and is kept; success exits 0."""
    builder = GatedBuilder()
    builder.gate.set()
    forge = await start_forge(builder)
    user = await forge.user()
    project_id = await forge.project(user, "shiny")
    work = await new_worktree(user, tmp_path / "w", {"index.html": "x"})
    sha = await head_of(user, work)

    pushed = await user.git("push", user.remote("shiny"), "main", cwd=work)

    assert pushed.status == 0, pushed.stderr
    assert "remote:        Step 1/2 : FROM paastech/base (static)" in pushed.stderr
    assert "remote: -----> Build #1 succeeded: 127.0.0.1:5000/shiny:1" in pushed.stderr
    request = builder.started.get_nowait()
    assert (request.commit_sha, request.plan.kind) == (sha, Kind.STATIC)
    assert request.repo_path == forge.repos.path(project_id)
    row = await Build.select().where(Build.project == project_id).first()
    assert row is not None
    assert (row["status"], row["image"], row["digest"]) == (
        "succeeded",
        "127.0.0.1:5000/shiny:1",
        f"sha256:{sha[:12]}",
    )
    assert row["started_at"] is not None
    assert row["finished_at"] is not None
    assert "Step 2/2 : done" in row["log"]


async def test_a_failing_build_shows_its_last_lines_and_exits_non_zero(
    start_forge: StartForge, tmp_path: Path
) -> None:
    """A backend failure is one ! line plus the last output lines, and is kept in the row."""
    builder = GatedBuilder(fail_with="RUN false returned a non-zero code: 1")
    builder.gate.set()
    forge = await start_forge(builder)
    user = await forge.user()
    project_id = await forge.project(user, "broken")
    work = await new_worktree(user, tmp_path / "w", {"Dockerfile": "FROM paastech/base\n"})

    pushed = await user.git("push", user.remote("broken"), "main", cwd=work)

    assert pushed.status != 0
    assert "remote: ! Build failed: RUN false returned a non-zero code: 1" in pushed.stderr
    row = await Build.select().where(Build.project == project_id).first()
    assert row is not None
    assert row["status"] == "failed"
    assert row["error"] == "RUN false returned a non-zero code: 1"


async def test_a_second_push_queues_and_the_later_commit_is_built_last(
    start_forge: StartForge, tmp_path: Path
) -> None:
    """While build #1 runs, a second push records #2, says it is queued, and builds after."""
    builder = GatedBuilder()
    forge = await start_forge(builder)
    user = await forge.user()
    project_id = await forge.project(user, "busy")
    work = await new_worktree(user, tmp_path / "w", {"index.html": "1"})
    first_push = asyncio.create_task(user.git("push", user.remote("busy"), "main", cwd=work))
    first = await asyncio.wait_for(builder.started.get(), 30)
    later_sha = await commit(user, work, {"index.html": "2"}, "two")

    second_push = asyncio.create_task(user.git("push", user.remote("busy"), "main", cwd=work))
    # Polling the database is the point: the second push is another process's doing.
    while await Build.count().where(Build.project == project_id) < 2:  # noqa: ASYNC110
        await asyncio.sleep(0.02)
    builder.gate.set()
    second = await asyncio.wait_for(builder.started.get(), 30)
    results = await asyncio.gather(first_push, second_push)

    assert [r.status for r in results] == [0, 0]
    assert "build #2 queued behind the running build of busy" in results[1].stderr
    assert (first.number, second.number) == (1, 2)
    assert second.commit_sha == later_sha
    rows = (
        await Build.select(Build.number, Build.status, Build.finished_at)
        .where(Build.project == project_id)
        .order_by(Build.number)
    )
    assert [r["status"] for r in rows] == ["succeeded", "succeeded"]
    assert rows[0]["finished_at"] <= rows[1]["finished_at"]


async def test_a_build_over_its_time_limit_fails(start_forge: StartForge, tmp_path: Path) -> None:
    """A backend that never finishes is cut off at build.timeout_seconds and recorded failed."""
    # replace() skips validation, so the test can use a limit below the settings' minimum.
    forge = await start_forge(GatedBuilder(), build={"timeout_seconds": 1})
    user = await forge.user()
    project_id = await forge.project(user, "slow")
    work = await new_worktree(user, tmp_path / "w", {"index.html": "x"})

    pushed = await user.git("push", user.remote("slow"), "main", cwd=work)

    assert pushed.status != 0
    assert "remote: ! Build failed: build timed out after 1 s" in pushed.stderr
    row = await Build.select(Build.status, Build.error).where(Build.project == project_id)
    assert row == [{"status": "failed", "error": "build timed out after 1 s"}]


async def test_the_build_finishes_when_the_pusher_hangs_up(
    start_forge: StartForge, tmp_path: Path
) -> None:
    """Killing git push mid-build loses the terminal, not the build: it is still recorded."""
    builder = GatedBuilder()
    forge = await start_forge(builder)
    user = await forge.user()
    project_id = await forge.project(user, "orphan")
    work = await new_worktree(user, tmp_path / "w", {"index.html": "x"})
    proc = await asyncio.create_subprocess_exec(
        "git",
        "push",
        user.remote("orphan"),
        "main",
        cwd=work,
        env=user.env(),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        start_new_session=True,
    )
    await asyncio.wait_for(builder.started.get(), 30)

    os.killpg(proc.pid, signal.SIGKILL)
    await proc.wait()
    builder.gate.set()

    for _ in range(200):
        row = await Build.select(Build.status).where(Build.project == project_id).first()
        if row is not None and row["status"] != "running":
            break
        await asyncio.sleep(0.05)
    assert row == {"status": "succeeded"}


async def test_the_build_log_grows_in_the_row_while_the_build_runs(
    start_forge: StartForge, tmp_path: Path
) -> None:
    """The gateway can follow a running build: its log is appended to, never rewritten."""
    builder = GatedBuilder()
    forge = await start_forge(builder)
    user = await forge.user()
    project_id = await forge.project(user, "followed")
    work = await new_worktree(user, tmp_path / "w", {"index.html": "x"})
    push = asyncio.create_task(user.git("push", user.remote("followed"), "main", cwd=work))
    await asyncio.wait_for(builder.started.get(), 30)

    live = None
    for _ in range(100):
        row = await Build.select().where(Build.project == project_id).first()
        if row is not None and "Step 1/2" in row["log"]:
            live = row
            break
        await asyncio.sleep(0.05)
    builder.gate.set()
    await push
    final = await Build.select().where(Build.project == project_id).first()

    assert live is not None
    assert live["status"] == "running"
    assert final is not None
    assert final["status"] == "succeeded"
    assert final["log"].startswith(live["log"])
    assert final["log"].endswith("succeeded: 127.0.0.1:5000/followed:1\n")


@dataclass
class ChattyBuilder:
    """A stand-in backend that prints ``lines`` lines of output, then succeeds."""

    lines: int

    async def build(self, request: BuildRequest, progress: Progress) -> BuildResult:
        for i in range(self.lines):
            await progress.output(f"output line {i:05d} " + "x" * 40)
        return BuildResult(image=f"127.0.0.1:5000/{request.project}:{request.build_id}", digest="")


async def test_a_log_over_its_cap_is_cut_with_a_marker_and_the_verdict_is_kept(
    start_forge: StartForge, tmp_path: Path
) -> None:
    """Past build.log_max_bytes the kept log says [log truncated]; how it ended is still there."""
    forge = await start_forge(ChattyBuilder(lines=2000), build={"log_max_bytes": 4096})
    user = await forge.user()
    project_id = await forge.project(user, "chatty")
    work = await new_worktree(user, tmp_path / "w", {"index.html": "x"})

    pushed = await user.git("push", user.remote("chatty"), "main", cwd=work)

    assert pushed.status == 0, pushed.stderr
    assert "output line 01999" in pushed.stderr  # the terminal is not cut
    row = await Build.select(Build.log).where(Build.project == project_id).first()
    assert row is not None
    kept, marker, verdict = row["log"].partition("[log truncated]\n")
    assert marker
    assert len(kept.encode()) <= 4096
    assert kept.endswith("x\n")  # cut at a line end
    assert "succeeded: 127.0.0.1:5000/chatty:" in verdict
    assert "output line 01999" not in row["log"]


async def test_queued_builds_are_told_their_place_in_the_queue(
    start_forge: StartForge, tmp_path: Path
) -> None:
    """Two pushes behind a running build hear positions 1 and 2, in push order."""
    builder = GatedBuilder()
    forge = await start_forge(builder)
    user = await forge.user()
    project_id = await forge.project(user, "queue")
    work = await new_worktree(user, tmp_path / "w", {"index.html": "1"})
    pushes = [asyncio.create_task(user.git("push", user.remote("queue"), "main", cwd=work))]
    await asyncio.wait_for(builder.started.get(), 30)
    for n in (2, 3):
        await commit(user, work, {"index.html": str(n)}, f"c{n}")
        pushes.append(asyncio.create_task(user.git("push", user.remote("queue"), "main", cwd=work)))
        while await Build.count().where(Build.project == project_id) < n:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
    builder.gate.set()
    results = await asyncio.gather(*pushes)

    assert [r.status for r in results] == [0, 0, 0]
    assert "(position 1 in the build queue)" in results[1].stderr
    assert "(position 2 in the build queue)" in results[2].stderr
