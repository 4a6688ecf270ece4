"""Build benchmark: warm rebuilds through git push + Nomad vs plain docker build, and scheduling.

(a) Warm rebuild: a code-only change of ``examples/python-app`` pushed through the forge
    (Nomad batch job, docker build with the layer cache, push to the registry, digest
    checked) against a plain ``docker build --network host`` of the same kind of context
    (an exported commit with its generated Dockerfile; each build gets a code-only change
    of its own, so none finds the one before it in the layer cache) in the same run,
    rotating which goes first; p50 of each over ``--rounds`` (>= 5) and their ratio (target
    <= 1.5). ``docker_build_push`` is a reference in the same rounds: the plain build plus
    the ``docker push`` to the registry that every build must make, without Nomad or git;
    ``nomad_task_start`` another: Nomad starting a raw_exec task that does nothing.
(b) Scheduling overhead: push accepted (the Build row recorded) to the build job's task
    running in Nomad (``job_running_at``), p50 over the same pushes.

``phases_p50_ms`` splits the push: ``transport`` (git push started to the Build row: SSH,
receive-pack), ``queued``, ``to_job_running`` (detection, job submitted, Nomad placing and
starting the task, its source download), ``job`` (the task's work: docker build and push,
plus noticing its end and checking the digest) and ``answer`` (the Build row finished to
git push returning).

Real PostgreSQL, Docker, registry (auth on) and Nomad v1.6.5 dev agent, all on loopback
(started when not running). No scheduler runs here: the forge builds only (``forge.deploy =
false``), so the push ends right after the build, which is the part timed; push-to-live is
``deploy_bench.py``'s. ``python tests/bench/build_bench.py --out build.json``
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import io
import json
import os
import shutil
import statistics
import sys
import tarfile
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import msgspec

from paastech import db as dbmod
from paastech.db.tables import Build, Client, Project, SshKey
from paastech.forge.detect import detect
from paastech.forge.nomad_builder import nomad_builder
from paastech.forge.repos import GitRepoStore, source_tree
from paastech.forge.server import start_server
from paastech.infra import nomad as nomad_infra
from paastech.infra import registry as registry_infra
from paastech.infra.docker import ensure_docker
from paastech.infra.images import ensure_images
from paastech.infra.postgres import ensure_postgres, password_file
from paastech.scheduler.registry import RegistryApi
from paastech.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from throwaway import create_database, drop_database  # noqa: E402 - after the path set-up

EXAMPLE = ROOT / "examples" / "python-app"
TARGET_RATIO = 1.5
"""Seconds a push waits for its release to go live: none, no scheduler deploys it here."""


async def _run(
    *argv: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> str:
    proc = await asyncio.create_subprocess_exec(
        *argv, cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[:3]} failed ({proc.returncode}): {err.decode()[-2000:]}")
    return out.decode()


def _summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered), 1),
        "mean_ms": round(statistics.fmean(ordered), 1),
        "min_ms": round(ordered[0], 1),
        "max_ms": round(ordered[-1], 1),
    }


async def bench(rounds: int) -> dict[str, Any]:
    state_dir = ROOT / ".paastech"
    environ = dict(os.environ)
    pg = await asyncio.to_thread(ensure_postgres, state_dir, load_settings({}).db)
    base = load_settings({**environ, "PAASTECH_DB__PASSWORD_FILE": str(password_file(state_dir))})
    docker = await asyncio.to_thread(ensure_docker, state_dir, environ)
    await asyncio.to_thread(ensure_images, environ)
    registry = await asyncio.to_thread(
        registry_infra.ensure_registry, state_dir, base.registry, environ
    )
    user, password = registry_infra.credentials(state_dir, base.registry)
    agent = await asyncio.to_thread(
        nomad_infra.ensure_nomad_agent,
        state_dir,
        base.nomad,
        environ,
        docker_auth=registry_infra.docker_auth_path(state_dir),
    )
    bench_db = await create_database(base.db, "bench")
    try:
        with tempfile.TemporaryDirectory(prefix="build-bench-") as tmp_name:
            tmp = Path(tmp_name)
            settings = msgspec.structs.replace(
                base,
                state_dir=str(tmp / "state"),
                db=bench_db,
                forge=msgspec.structs.replace(base.forge, port=0, archive_port=0, deploy=False),
                nomad=msgspec.structs.replace(
                    base.nomad, token=nomad_infra.management_token(state_dir)
                ),
                registry=msgspec.structs.replace(base.registry, username=user, password=password),
            )
            async with dbmod.connected(settings.db):
                return await _measure(settings, tmp, rounds)
    finally:
        await drop_database(base.db, bench_db.database)
        for running in (agent, registry, docker, pg):
            running.stop()


async def _user(settings: Settings, tmp: Path) -> tuple[uuid.UUID, dict[str, str]]:
    key = tmp / "id_ed25519"
    await _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key))
    fingerprint = (await _run("ssh-keygen", "-l", "-f", f"{key}.pub")).split()[1]
    now = dt.datetime.now(dt.UTC)
    client = Client(
        id=uuid.uuid4(), email="bench@example.invalid", password_hash="x", created_at=now
    )
    await client.save()
    await SshKey(
        id=uuid.uuid4(),
        client=client.id,
        name="bench",
        public_key=(tmp / "id_ed25519.pub").read_text(),
        key_type="ssh-ed25519",
        fingerprint=fingerprint,
        created_at=now,
    ).save()
    project = Project(
        id=uuid.uuid4(), client=client.id, name="bench-build", created_at=now, updated_at=now
    )
    await project.save()
    GitRepoStore.for_state_dir(Path(settings.state_dir)).create(project.id)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp),
        "LC_ALL": "C",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Bench",
        "GIT_AUTHOR_EMAIL": "bench@example.invalid",
        "GIT_COMMITTER_NAME": "Bench",
        "GIT_COMMITTER_EMAIL": "bench@example.invalid",
        "GIT_SSH_COMMAND": (
            f"ssh -i {key} -F /dev/null -o StrictHostKeyChecking=no"
            " -o UserKnownHostsFile=/dev/null -o IdentitiesOnly=yes -o LogLevel=ERROR"
        ),
    }
    return project.id, env


def _context(git_dir: Path, sha: str, dest: Path) -> None:
    """The build context the Nomad job gets: the commit's tree plus the generated Dockerfile."""
    plan = detect(source_tree(git_dir, sha))
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    import subprocess  # noqa: PLC0415 - only this helper shells out synchronously

    archive = subprocess.run(
        ["git", f"--git-dir={git_dir}", "archive", "--format=tar", sha],
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")
    if plan.dockerfile is not None:
        (dest / "Dockerfile").write_text(plan.dockerfile)


async def _plain_build(context: Path, tag: str, push_with: str | None = None) -> None:
    """``docker build`` of ``context`` as the build job runs it; then, with a DOCKER_CONFIG
    folder, ``docker push`` of it."""
    env = {**os.environ, "DOCKER_BUILDKIT": "0"}
    await _run("docker", "build", "-q", "--network", "host", "-t", tag, str(context), env=env)
    if push_with is not None:
        await _run("docker", "push", "-q", tag, env={**env, "DOCKER_CONFIG": push_with})


async def _clean_up(settings: Settings) -> None:
    """The bench's repositories in the registry and its images in the local daemon."""
    registry = RegistryApi(settings.registry)
    address = settings.registry.address
    for repository in ("bench-build", "bench-build-plain"):
        await registry.delete_repository(repository)
    for reference in ("bench-plain", f"{address}/bench-build", f"{address}/bench-build-plain"):
        listed = await _run("docker", "images", "-q", "--filter", f"reference={reference}")
        if listed.split():
            await _run("docker", "rmi", "-f", *set(listed.split()))


async def _nomad_task_start(settings: Settings, rounds: int) -> dict[str, dict[str, float]]:
    """Reference: how long Nomad takes to start a task that does nothing (``/bin/true``,
    raw_exec, no template), from the job's registration to its ``Started`` event and from
    ``Task Setup`` to ``Started`` (the client launching its logmon and executor plugins)."""
    headers = {"X-Nomad-Token": settings.nomad.token}
    to_started: list[float] = []
    setup_to_started: list[float] = []
    async with httpx.AsyncClient(
        base_url=settings.nomad.address, headers=headers, timeout=30
    ) as nomad:
        for _ in range(rounds):
            job_id = f"paastech-bench-probe-{uuid.uuid4().hex[:8]}"
            task = {
                "Name": "probe",
                "Driver": "raw_exec",
                "Config": {"command": "/bin/true"},
                "Resources": {"CPU": 100, "MemoryMB": 32},
                "LogConfig": {"MaxFiles": 1, "MaxFileSizeMB": 1},
            }
            group = {
                "Name": "probe",
                "Count": 1,
                "RestartPolicy": {"Attempts": 0, "Mode": "fail"},
                "ReschedulePolicy": {"Attempts": 0, "Unlimited": False},
                "EphemeralDisk": {"SizeMB": 10},
                "Tasks": [task],
            }
            job = {"ID": job_id, "Type": "batch", "Datacenters": [settings.nomad.datacenter]}
            registered = time.time_ns()
            r = await nomad.put("/v1/jobs", json={"Job": {**job, "TaskGroups": [group]}})
            r.raise_for_status()
            try:
                events: dict[str, int] = {}
                while "Started" not in events:
                    await asyncio.sleep(0.05)
                    for alloc in (await nomad.get(f"/v1/job/{job_id}/allocations")).json():
                        state = (alloc.get("TaskStates") or {}).get("probe") or {}
                        events = {e["Type"]: e["Time"] for e in state.get("Events") or []}
            finally:
                await nomad.delete(f"/v1/job/{job_id}", params={"purge": "true"})
            to_started.append((events["Started"] - registered) / 1e6)
            setup_to_started.append((events["Started"] - events["Task Setup"]) / 1e6)
    return {
        "registered_to_started": _summary(to_started),
        "task_setup_to_started": _summary(setup_to_started),
    }


async def _measure(settings: Settings, tmp: Path, rounds: int) -> dict[str, Any]:
    project_id, env = await _user(settings, tmp)
    git = shutil.which("git") or "git"
    async with nomad_builder(settings, git) as builder:
        acceptor = await start_server(settings, builder)
        port = acceptor.sockets[0].getsockname()[1]
        env["GIT_SSH_COMMAND"] += f" -p {port}"
        remote = f"ssh://git@127.0.0.1:{port}/bench-build.git"
        work = tmp / "work"
        shutil.copytree(EXAMPLE, work)
        await _run("git", "init", "-q", "-b", "main", cwd=work, env=env)
        timings: dict[str, list[float]] = {
            "git_push_nomad": [],
            "docker_build": [],
            "docker_build_push": [],
        }
        # The reference's push uses the registry credentials Nomad's docker plugin gets
        # (their folder is a DOCKER_CONFIG), to a repository of its own that is removed after.
        docker_config = str(registry_infra.docker_auth_path(ROOT / ".paastech").parent)
        plain_push = f"{settings.registry.address}/bench-build-plain"
        overhead: list[float] = []
        phases: dict[str, list[float]] = {
            "transport": [],
            "queued": [],
            "to_job_running": [],
            "job": [],
            "answer": [],
        }
        push_wall: tuple[dt.datetime, dt.datetime] | None = None
        try:
            for i in range(rounds + 1):  # round 0 warms the dependency layer: not timed
                order = list(timings)
                order = order[i % len(order) :] + order[: i % len(order)]
                for label in order:
                    # A change of its own for each: the plain builds share the daemon's
                    # layer cache, and a second build of one change would find it cached.
                    (work / "app.py").write_text(
                        (EXAMPLE / "app.py").read_text() + f"\n# change {i} {uuid.uuid4()}\n"
                    )
                    await _run("git", "add", "-A", cwd=work, env=env)
                    await _run("git", "commit", "-q", "-m", f"change {i}", cwd=work, env=env)
                    head = (await _run("git", "rev-parse", "HEAD", cwd=work, env=env)).strip()
                    context = tmp / "context"
                    await asyncio.to_thread(_context, work / ".git", head, context)
                    if label == "git_push_nomad":
                        sha = head
                    started = time.perf_counter()
                    if label == "git_push_nomad":
                        wall = dt.datetime.now(dt.UTC)
                        # Exit 1 is the cut deploy wait; the build's row is checked below.
                        await _run("git", "push", "-q", remote, "main", cwd=work, env=env)
                        push_wall = (wall, dt.datetime.now(dt.UTC))
                    elif label == "docker_build":
                        await _plain_build(context, f"bench-plain:{i}")
                    else:
                        await _plain_build(context, f"{plain_push}:{i}", push_with=docker_config)
                    elapsed = (time.perf_counter() - started) * 1000
                    if i > 0:
                        timings[label].append(elapsed)
                    # The job's purge runs behind the push's answer: not inside the next timing.
                    await builder.drain()
                row = (
                    await Build.select()
                    .where((Build.project == project_id) & (Build.commit_sha == sha))
                    .first()
                )
                if row is None or row["status"] != "succeeded":
                    raise RuntimeError(f"build of {sha[:7]} did not succeed: {row}")
                if i > 0 and push_wall is not None:
                    delta = row["job_running_at"] - row["created_at"]
                    overhead.append(delta.total_seconds() * 1000)
                    transport = row["created_at"] - push_wall[0]
                    phases["transport"].append(transport.total_seconds() * 1000)
                    answer = push_wall[1] - row["finished_at"]
                    phases["answer"].append(answer.total_seconds() * 1000)
                    for phase, (a, b) in {
                        "queued": ("created_at", "started_at"),
                        "to_job_running": ("started_at", "job_running_at"),
                        "job": ("job_running_at", "finished_at"),
                    }.items():
                        phases[phase].append((row[b] - row[a]).total_seconds() * 1000)
            task_start = await _nomad_task_start(settings, rounds)
        finally:
            acceptor.close()
            await acceptor.wait_closed()
            await _clean_up(settings)
    push = _summary(timings["git_push_nomad"])
    plain = _summary(timings["docker_build"])
    plain_push = _summary(timings["docker_build_push"])
    ratio = round(push["p50_ms"] / plain["p50_ms"], 2)
    return {
        "benchmark": "warm rebuild of examples/python-app: git push through Nomad vs docker build",
        "rounds": rounds,
        "warm_rebuild": {
            "git_push_nomad": push,
            "docker_build": plain,
            "ratio_p50": ratio,
            "target_ratio": TARGET_RATIO,
            "meets_target": ratio <= TARGET_RATIO,
            # Reference: the same build plus the push every build must make, outside Nomad.
            "docker_build_push": plain_push,
            "docker_build_push_ratio_p50": round(plain_push["p50_ms"] / plain["p50_ms"], 2),
        },
        "push_accepted_to_job_running": _summary(overhead),
        # Reference: Nomad starting a task that does nothing, on the same agent.
        "nomad_task_start": task_start,
        "phases_p50_ms": {k: round(statistics.median(v), 1) for k, v in phases.items()},
        "samples_ms": {
            **{k: [round(v, 1) for v in vals] for k, vals in timings.items()},
            "push_accepted_to_job_running": [round(v, 1) for v in overhead],
        },
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path, help="where to write the JSON")
    parser.add_argument("--rounds", type=int, default=7, help="timed rebuilds (>= 5)")
    args = parser.parse_args()
    if args.rounds < 5:
        parser.error("--rounds must be at least 5")
    result = asyncio.run(bench(args.rounds))
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    warm = result["warm_rebuild"]
    print(
        f"warm rebuild p50: git push + Nomad {warm['git_push_nomad']['p50_ms']} ms vs docker"
        f" build {warm['docker_build']['p50_ms']} ms: ratio {warm['ratio_p50']}"
        f" (target <= {TARGET_RATIO}: {'met' if warm['meets_target'] else 'MISSED'});"
        f" reference docker build + push {warm['docker_build_push']['p50_ms']} ms"
        f" ({warm['docker_build_push_ratio_p50']}x); Nomad starts an empty task in"
        f" {result['nomad_task_start']['registered_to_started']['p50_ms']} ms;"
        f" push accepted -> job running p50"
        f" {result['push_accepted_to_job_running']['p50_ms']} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
