"""Transport benchmark: a one-commit git push through the forge vs to a file:// remote.

Both remotes receive the very same one-commit push in the same run, alternating which goes
first, so the ratio says what SSH + the forge cost on top of git itself. Builds are
disabled (``build.enabled = false``): this measures the transport, not a build. Uses the
private PostgreSQL cluster (started if needed) with a throwaway database, and loopback only.

    python tests/bench/forge_bench.py --out forge.json [--pushes 30]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import msgspec

from paastech import db as dbmod
from paastech.db.tables import Client, Project, SshKey
from paastech.forge.repos import GitRepoStore
from paastech.forge.server import start_server
from paastech.infra.postgres import ensure_postgres, password_file
from paastech.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from throwaway import create_database, drop_database  # noqa: E402 - after the path set-up

TARGET_P50_MS = 150.0


async def _run(*argv: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
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
        "p50_ms": round(statistics.median(ordered), 2),
        "p90_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))], 2),
        "mean_ms": round(statistics.fmean(ordered), 2),
        "min_ms": round(ordered[0], 2),
        "max_ms": round(ordered[-1], 2),
    }


async def bench(pushes: int, warmup: int) -> dict[str, Any]:
    state_dir = ROOT / ".paastech"
    running = await asyncio.to_thread(ensure_postgres, state_dir, load_settings({}).db)
    base = load_settings({"PAASTECH_DB__PASSWORD_FILE": str(password_file(state_dir))})
    bench_db = await create_database(base.db, "bench")
    try:
        with tempfile.TemporaryDirectory(prefix="forge-bench-") as tmp_name:
            tmp = Path(tmp_name)
            settings = msgspec.structs.replace(
                base,
                state_dir=str(tmp / "state"),
                db=bench_db,
                forge=msgspec.structs.replace(base.forge, host="127.0.0.1", port=0),
                build=msgspec.structs.replace(base.build, enabled=False),
            )
            async with dbmod.connected(settings.db):
                return await _measure(settings, tmp, pushes, warmup)
    finally:
        await drop_database(base.db, bench_db.database)
        running.stop()


async def _measure(settings: Settings, tmp: Path, pushes: int, warmup: int) -> dict[str, Any]:
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
        id=uuid.uuid4(), client=client.id, name="bench-app", created_at=now, updated_at=now
    )
    await project.save()
    GitRepoStore.for_state_dir(Path(settings.state_dir)).create(project.id)
    acceptor = await start_server(settings)
    port = acceptor.sockets[0].getsockname()[1]
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
            f" -p {port}"
        ),
    }
    forge_remote = f"ssh://git@127.0.0.1:{port}/bench-app.git"
    bare = tmp / "plain.git"
    await _run("git", "init", "-q", "--bare", "-b", "main", str(bare), env=env)
    file_remote = f"file://{bare}"
    work = tmp / "work"
    work.mkdir()
    await _run("git", "init", "-q", "-b", "main", cwd=work, env=env)
    timings: dict[str, list[float]] = {"forge": [], "file": []}
    try:
        for i in range(warmup + pushes):
            (work / "counter.txt").write_text(f"{i}\n")
            (work / f"file-{i}.txt").write_text(f"change {i} {uuid.uuid4()}\n")
            await _run("git", "add", "-A", cwd=work, env=env)
            await _run("git", "commit", "-q", "-m", f"change {i}", cwd=work, env=env)
            order = [("forge", forge_remote), ("file", file_remote)]
            if i % 2:
                order.reverse()
            for label, remote in order:
                started = time.perf_counter()
                await _run("git", "push", "-q", remote, "main", cwd=work, env=env)
                elapsed = (time.perf_counter() - started) * 1000
                if i >= warmup:
                    timings[label].append(elapsed)
        stored = await _run("git", "ls-remote", forge_remote, "refs/heads/main", env=env)
        head = (await _run("git", "rev-parse", "HEAD", cwd=work, env=env)).strip()
        if stored.split()[0] != head:
            raise RuntimeError("the forge does not hold the last pushed commit")
    finally:
        acceptor.close()
        await acceptor.wait_closed()
    forge = _summary(timings["forge"])
    plain = _summary(timings["file"])
    return {
        "benchmark": "forge transport: one-commit git push, builds disabled",
        "pushes": pushes,
        "warmup": warmup,
        "forge": forge,
        "file_remote": plain,
        "ratio_p50": round(forge["p50_ms"] / plain["p50_ms"], 2),
        "target_p50_ms": TARGET_P50_MS,
        "meets_target": forge["p50_ms"] <= TARGET_P50_MS,
        "samples_ms": {k: [round(v, 2) for v in vals] for k, vals in timings.items()},
        "git": (await _run("git", "--version")).strip(),
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path, help="where to write the JSON")
    parser.add_argument("--pushes", type=int, default=30, help="timed pushes (>= 20)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed pushes first")
    args = parser.parse_args()
    if args.pushes < 20:
        parser.error("--pushes must be at least 20")
    result = asyncio.run(bench(args.pushes, args.warmup))
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"forge p50 {result['forge']['p50_ms']} ms vs file:// p50"
        f" {result['file_remote']['p50_ms']} ms: ratio {result['ratio_p50']}"
        f" (target p50 <= {TARGET_P50_MS} ms: {'met' if result['meets_target'] else 'MISSED'})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
