"""A forge killed mid-build: the build ends in a true state once a forge runs again.

The forge here is the real entry point (``python -m paastech forge``) in its own process,
so SIGKILL takes it down with nothing cleaned up; the build job lives on in Nomad.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from components import NomadAgent, RegistryAuth
from forge_harness import Forge, new_worktree
from imagebuild import free_port

from paastech import db
from paastech.db.tables import Build
from paastech.forge.recovery import QUEUED_LOST, recover_builds
from paastech.forge.repos import GitRepoStore
from paastech.settings import Settings

pytestmark = pytest.mark.integration


def forge_env(settings: Settings, state: Path, port: int) -> dict[str, str]:
    """The environment that makes ``paastech forge`` use the test's components."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(state),
        "PAASTECH_STATE_DIR": str(state),
        "PAASTECH_DB__HOST": settings.db.host,
        "PAASTECH_DB__PORT": str(settings.db.port),
        "PAASTECH_DB__USER": settings.db.user,
        "PAASTECH_DB__PASSWORD": settings.db.password,
        "PAASTECH_DB__DATABASE": settings.db.database,
        "PAASTECH_FORGE__PORT": str(port),
        "PAASTECH_FORGE__ARCHIVE_PORT": str(free_port()),
        "PAASTECH_FORGE__DEPLOY": "false",
        "PAASTECH_NOMAD__ADDRESS": settings.nomad.address,
        "PAASTECH_NOMAD__TOKEN": settings.nomad.token,
        "PAASTECH_REGISTRY__ADDRESS": settings.registry.address,
        "PAASTECH_REGISTRY__USERNAME": settings.registry.username,
        "PAASTECH_REGISTRY__PASSWORD": settings.registry.password,
        "PAASTECH_BUILD__CPU_MHZ": str(settings.build.cpu_mhz),
        "PAASTECH_BUILD__MEMORY_MB": str(settings.build.memory_mb),
    }


@pytest.fixture
async def forge_process(
    nomad_settings: Settings,
    clean_db: object,
    base_images: dict[str, str],
    tmp_path: Path,
) -> AsyncIterator[Callable[[], Any]]:
    """Start ``python -m paastech forge`` processes on one port and state dir."""
    state = tmp_path / "forge-state"
    port = free_port()
    env = forge_env(nomad_settings, state, port)
    procs: list[asyncio.subprocess.Process] = []

    async def start() -> tuple[asyncio.subprocess.Process, int]:
        log = (tmp_path / f"forge-{len(procs)}.log").open("wb")
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "paastech", "forge", env=env, stdout=log, stderr=log
        )
        procs.append(proc)
        for _ in range(200):
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                return proc, port
            await asyncio.sleep(0.1)
        raise AssertionError((tmp_path / f"forge-{len(procs) - 1}.log").read_text())

    async with db.connected(nomad_settings.db):
        yield start
    for proc in procs:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_a_forge_killed_mid_build_reattaches_and_records_the_build(
    forge_process: Callable[[], Any],
    nomad_settings: Settings,
    registry_auth: RegistryAuth,
    nomad_agent: NomadAgent,
    tmp_path: Path,
) -> None:
    """SIGKILL while the job runs; the next forge follows the job and records its image."""
    proc, port = await forge_process()
    state = tmp_path / "forge-state"
    forge = Forge(nomad_settings, port, tmp_path, GitRepoStore.for_state_dir(state))
    user = await forge.user()
    project_id = await forge.project(user, "phoenix")
    dockerfile = (  # a fresh step each run: the layer cache must not answer it
        f"FROM paastech/base\nRUN echo {uuid.uuid4()} && sleep 8 && echo finished-after-restart\n"
    )
    work = await new_worktree(user, tmp_path / "w", {"Dockerfile": dockerfile})
    pushing = asyncio.create_task(user.git("push", user.remote("phoenix"), "main", cwd=work))
    while True:
        row = await Build.select().where(Build.project == project_id).first()
        if row is not None and row["job_running_at"] is not None:
            break
        await asyncio.sleep(0.1)

    proc.send_signal(signal.SIGKILL)
    await proc.wait()
    killed = await pushing
    assert killed.status != 0
    assert (await Build.select(Build.status).where(Build.id == row["id"]).first()) == {
        "status": "running"
    }
    await forge_process()
    for _ in range(1200):
        final = await Build.select().where(Build.id == row["id"]).first()
        assert final is not None
        if final["status"] not in {"queued", "running"}:
            break
        await asyncio.sleep(0.1)

    assert final["status"] == "succeeded", final["error"]
    assert "reattached to paastech-build-" in final["log"]
    assert "finished-after-restart" in final["log"]
    async with httpx.AsyncClient(auth=(registry_auth.username, registry_auth.password)) as client:
        manifest = await client.head(
            f"http://{registry_auth.address}/v2/phoenix/manifests/{row['id']}",
            headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
        )
    assert manifest.headers["Docker-Content-Digest"] == final["digest"]
    async with httpx.AsyncClient(base_url=nomad_agent.address, headers=nomad_agent.headers) as n:
        assert (await n.get(f"/v1/job/{final['job_id']}")).status_code == 404


async def test_a_build_left_queued_is_failed_with_the_reason(
    start_nomad_forge: Any, tmp_path: Path
) -> None:
    """A queued build whose push died with the forge ends failed, saying to push again."""
    run = await start_nomad_forge()
    user = await run.forge.user()
    project_id = await run.forge.project(user, "stuck")
    build_id = uuid.uuid4()
    await Build(
        id=build_id, project=project_id, number=1, status="queued", commit_sha="a" * 40
    ).save()

    reattached = await recover_builds(run.builder, 60)

    assert reattached == []
    row = (
        await Build.select(Build.status, Build.error, Build.log).where(Build.id == build_id).first()
    )
    assert row == {
        "status": "failed",
        "error": QUEUED_LOST,
        "log": f"! Build failed: {QUEUED_LOST}\n",
    }


async def test_a_build_pushed_since_the_forge_started_is_not_taken_for_a_lost_one(
    start_nomad_forge: Any, tmp_path: Path
) -> None:
    """Recovery runs beside the listener: a build queued after this forge started is its own
    (waiting its turn), and stays queued; one from before is failed."""
    run = await start_nomad_forge()
    user = await run.forge.user()
    project_id = await run.forge.project(user, "busy")
    old_id, new_id = uuid.uuid4(), uuid.uuid4()
    await Build(
        id=old_id, project=project_id, number=1, status="queued", commit_sha="a" * 40
    ).save()
    started = dt.datetime.now(dt.UTC)
    await Build(
        id=new_id, project=project_id, number=2, status="queued", commit_sha="b" * 40
    ).save()

    assert await recover_builds(run.builder, 60, before=started) == []

    rows = await Build.select(Build.id, Build.status).order_by(Build.number)
    assert [(r["id"], r["status"]) for r in rows] == [(old_id, "failed"), (new_id, "queued")]
