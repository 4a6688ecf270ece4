"""Builds through real Nomad: git push → batch job → docker build → registry, live on the terminal.

Real ssh, git, Nomad v1.6.5 dev agent (ACLs on), Docker and the authenticated registry.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from forge_harness import User, commit, new_worktree

from paastech.db.tables import Build
from paastech.forge.build_job import job_id_for

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def example_files(name: str) -> dict[str, str]:
    folder = EXAMPLES / name
    return {
        str(p.relative_to(folder)): p.read_text() for p in sorted(folder.rglob("*")) if p.is_file()
    }


async def registry_digest(registry: Any, project: str, tag: str) -> str:
    """The digest the registry serves for project:tag, asked with the platform's credentials."""
    async with httpx.AsyncClient(auth=(registry.username, registry.password)) as client:
        r = await client.get(
            f"http://{registry.address}/v2/{project}/manifests/{tag}",
            headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
        )
    assert r.status_code == 200, r.text
    return str(r.headers["Docker-Content-Digest"])


async def build_row(project_id: Any) -> dict[str, Any]:
    row = (
        await Build.select()
        .where(Build.project == project_id)
        .order_by(Build.number, ascending=False)
        .first()
    )
    assert row is not None
    plan = row["plan"]
    row["plan"] = json.loads(plan) if isinstance(plan, str) else plan
    return row


async def push(user: User, project: str, work: Path) -> Any:
    return await user.git("push", user.remote(project), "main", cwd=work)


EXAMPLE_KINDS = [
    ("static-site", "static"),
    ("python-app", "python"),
    ("node-app", "node"),
    ("dockerfile-app", "dockerfile"),
    ("python-function", "function"),
]


@pytest.mark.parametrize(("example", "kind"), EXAMPLE_KINDS, ids=[e[0] for e in EXAMPLE_KINDS])
async def test_each_example_builds_in_nomad_into_the_registry(
    start_nomad_forge: Any, tmp_path: Path, example: str, kind: str
) -> None:
    """The push shows docker's output, ends in the registry; the row has digest, plan, timings."""
    run = await start_nomad_forge()
    user = await run.forge.user()
    name = example.replace("_", "-")
    project_id = await run.forge.project(
        user, name, "function" if kind == "function" else "container"
    )
    work = await new_worktree(user, tmp_path / "w", example_files(example))

    pushed = await push(user, name, work)

    assert pushed.status == 0, pushed.stderr
    job = job_id_for((await build_row(project_id))["id"])
    assert f"remote:        Nomad build job {job} submitted" in pushed.stderr
    assert "remote:        Step 1/" in pushed.stderr
    row = await build_row(project_id)
    assert row["status"] == "succeeded"
    assert row["image"] == f"{run.registry.address}/{name}:{row['id']}"
    assert row["digest"] == await registry_digest(run.registry, name, str(row["id"]))
    assert row["plan"]["kind"] == kind
    assert row["started_at"] <= row["job_running_at"] <= row["finished_at"]
    # The job's last output (markers, the blank filler that flushes Nomad's log buffer)
    # reaches neither the terminal nor the kept log.
    for shown in (pushed.stderr, row["log"]):
        assert re.search(r"paastech-[0-9a-f]{16} ", shown) is None
        assert " " * 80 not in shown
    gone = await run.nomad.get(f"/v1/job/{job_id_for(row['id'])}")
    assert gone.status_code == 404


async def test_a_failing_dockerfile_fails_the_push_with_its_error_line_and_keeps_the_log(
    start_nomad_forge: Any, tmp_path: Path
) -> None:
    """docker build's error line is the reason on the terminal; the whole log is kept."""
    run = await start_nomad_forge()
    user = await run.forge.user()
    project_id = await run.forge.project(user, "broken")
    dockerfile = "FROM paastech/base\nRUN echo about-to-fail && false\n"
    work = await new_worktree(user, tmp_path / "w", {"Dockerfile": dockerfile})

    pushed = await push(user, "broken", work)

    assert pushed.status != 0
    reason = (
        "docker build failed: The command '/bin/sh -c echo about-to-fail && false'"
        " returned a non-zero code: 1"
    )
    assert f"remote: ! Build failed: {reason}" in pushed.stderr
    row = await build_row(project_id)
    assert (row["status"], row["error"]) == ("failed", reason)
    assert "about-to-fail" in row["log"]
    assert f"! Build failed: {reason}" in row["log"]


async def test_nothing_runnable_fails_naming_the_files_looked_for(
    start_nomad_forge: Any, tmp_path: Path
) -> None:
    """A tree with nothing the platform can build exits non-zero before any job is made."""
    run = await start_nomad_forge()
    user = await run.forge.user()
    project_id = await run.forge.project(user, "empty")
    work = await new_worktree(user, tmp_path / "w", {"README.md": "notes\n"})

    pushed = await push(user, "empty", work)

    assert pushed.status != 0
    assert "looked for Dockerfile, paastech.toml, Procfile" in pushed.stderr
    row = await build_row(project_id)
    assert row["status"] == "failed"
    assert "looked for Dockerfile" in row["log"]
    assert row["job_id"] == ""


async def test_a_run_step_calling_the_nomad_api_gets_403(
    start_nomad_forge: Any, tmp_path: Path
) -> None:
    """Build code shares the loopback with Nomad, but without a token Nomad refuses it."""
    run = await start_nomad_forge()
    user = await run.forge.user()
    project_id = await run.forge.project(user, "sneaky")
    # paastech/python carries no curl; Python's urllib makes the same anonymous request.
    probe = (
        "import urllib.request; urllib.request.urlopen('http://127.0.0.1:4646/v1/jobs', timeout=5)"
    )
    dockerfile = f'FROM paastech/python\nRUN python3 -c "{probe}"\n'
    work = await new_worktree(user, tmp_path / "w", {"Dockerfile": dockerfile})

    pushed = await push(user, "sneaky", work)

    assert pushed.status != 0
    assert "HTTP Error 403: Forbidden" in pushed.stderr
    row = await build_row(project_id)
    assert row["status"] == "failed"
    assert "HTTP Error 403: Forbidden" in row["log"]


async def test_build_output_reaches_the_terminal_while_the_build_runs(
    start_nomad_forge: Any, tmp_path: Path
) -> None:
    """A RUN step's first line is on the pusher's screen before the step has finished."""
    run = await start_nomad_forge()
    user = await run.forge.user()
    await run.forge.project(user, "live")
    # A fresh value in the step: the layer cache must not answer it from an earlier run.
    dockerfile = f"FROM paastech/base\nRUN echo live-marker-$((40+2)) {uuid.uuid4()} && sleep 6\n"
    work = await new_worktree(user, tmp_path / "w", {"Dockerfile": dockerfile})
    proc = await asyncio.create_subprocess_exec(
        "git",
        "push",
        user.remote("live"),
        "main",
        cwd=work,
        env=user.env(),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stderr is not None
    seen_at = None
    lines = []
    while line := await asyncio.wait_for(proc.stderr.readline(), 120):
        lines.append(line)
        if b"live-marker-42" in line and seen_at is None:
            seen_at = time.monotonic()
    await proc.wait()
    ended_at = time.monotonic()

    assert proc.returncode == 0
    assert seen_at is not None, b"".join(lines).decode()
    assert ended_at - seen_at > 3  # the sleep 6 was still ahead when the marker arrived


async def test_the_build_finishes_and_is_recorded_when_the_pusher_presses_ctrl_c(
    start_nomad_forge: Any, tmp_path: Path
) -> None:
    """Killing git push mid-build drops the terminal, not the build."""
    run = await start_nomad_forge()
    user = await run.forge.user()
    project_id = await run.forge.project(user, "orphan")
    dockerfile = f"FROM paastech/base\nRUN sleep 3 && echo built-anyway {uuid.uuid4()}\n"
    work = await new_worktree(user, tmp_path / "w", {"Dockerfile": dockerfile})
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
    while True:
        row = await Build.select(Build.job_running_at).where(Build.project == project_id).first()
        if row is not None and row["job_running_at"] is not None:
            break
        await asyncio.sleep(0.1)

    os.killpg(proc.pid, signal.SIGINT)
    await proc.wait()
    for _ in range(600):
        final = await build_row(project_id)
        if final["status"] not in {"queued", "running"}:
            break
        await asyncio.sleep(0.1)

    assert final["status"] == "succeeded"
    assert "built-anyway" in final["log"]


async def test_ten_concurrent_pushes_to_ten_projects_all_build(
    start_nomad_forge: Any, tmp_path: Path
) -> None:
    """Every one of ten simultaneous pushes ends with its image in the registry."""
    run = await start_nomad_forge()
    user = await run.forge.user()
    names = [f"many-{i}" for i in range(10)]
    works = []
    for name in names:
        await run.forge.project(user, name)
        works.append(
            await new_worktree(user, tmp_path / name, {"index.html": f"<h1>{name}</h1>\n"})
        )

    results = await asyncio.gather(*(push(user, n, w) for n, w in zip(names, works, strict=True)))

    assert [r.status for r in results] == [0] * 10, [r.stderr[-500:] for r in results]
    for name in names:
        row = await build_row(user.projects[name])
        assert row["status"] == "succeeded"
        assert row["digest"] == await registry_digest(run.registry, name, str(row["id"]))


async def test_two_quick_pushes_end_with_the_later_commit_built(
    start_nomad_forge: Any, tmp_path: Path
) -> None:
    """The second push queues behind the first; the last build is of the later commit."""
    run = await start_nomad_forge()
    user = await run.forge.user()
    project_id = await run.forge.project(user, "twice")
    work = await new_worktree(user, tmp_path / "w", {"index.html": "one\n"})
    first = asyncio.create_task(push(user, "twice", work))
    while await Build.count().where(Build.project == project_id) < 1:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    later = await commit(user, work, {"index.html": "two\n"}, "two")

    second = await push(user, "twice", work)
    await first

    assert second.status == 0, second.stderr
    row = await build_row(project_id)
    assert (row["number"], row["commit_sha"], row["status"]) == (2, later, "succeeded")
    assert row["digest"] == await registry_digest(run.registry, "twice", str(row["id"]))


async def test_a_build_over_its_time_limit_is_stopped_in_nomad_and_reported_timed_out(
    start_nomad_forge: Any, tmp_path: Path
) -> None:
    """At build.timeout_seconds the job is purged, no allocation runs, the push says why."""
    run = await start_nomad_forge(timeout_seconds=10)
    user = await run.forge.user()
    project_id = await run.forge.project(user, "slow")
    dockerfile = "FROM paastech/base\nRUN echo sleeping && sleep 317\n"
    work = await new_worktree(user, tmp_path / "w", {"Dockerfile": dockerfile})

    pushed = await push(user, "slow", work)

    assert pushed.status != 0
    assert "remote: ! Build failed: build timed out after 10 s" in pushed.stderr
    row = await build_row(project_id)
    assert (row["status"], row["error"]) == ("failed", "build timed out after 10 s")
    assert (await run.nomad.get(f"/v1/job/{row['job_id']}")).status_code == 404
    allocs = (await run.nomad.get("/v1/allocations", params={"prefix": ""})).json()
    running = [a for a in allocs if a["JobID"] == row["job_id"] and a["ClientStatus"] == "running"]
    assert running == []
    for _ in range(100):  # the RUN step's container goes with the cancelled docker build
        ps = await asyncio.create_subprocess_exec(
            "ps", "-eo", "args", stdout=asyncio.subprocess.PIPE
        )
        out, _ = await ps.communicate()
        if b"sleep 317" not in out:
            break
        await asyncio.sleep(0.2)
    assert b"sleep 317" not in out
