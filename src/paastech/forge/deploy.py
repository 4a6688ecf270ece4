"""After a successful build: make the release, then tell the pusher how its deploy went.

The forge never talks to Nomad for a deploy. It writes the release (the scheduler's NOTIFY
goes with the commit) and follows the release's event rows, woken by ``LISTEN`` on
:data:`~paastech.releases.EVENTS_CHANNEL` and re-reading them every few seconds in case a
notification was lost. It prints each step and ends with ``-----> Live at <url>`` (exit 0)
or ``! Deploy failed: <reason>`` with the app's last log lines (non-zero), while the previous
release keeps serving. A pusher who hangs up changes nothing: the deploy goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from uuid import UUID

import asyncpg

from paastech import releases
from paastech.forge.progress import Progress
from paastech.settings import Settings

RECHECK_SECONDS = 2.0


def app_url(settings: Settings, project: str) -> str:
    """``http://<project>.<apps domain>[:<Fabio port>]``, as a browser would open it."""
    port = settings.fabio.proxy_addr.rpartition(":")[2]
    suffix = "" if port in {"80", ""} else f":{port}"
    return f"http://{project}.{settings.apps.domain}{suffix}"


async def deploy_build(
    settings: Settings,
    *,
    project_id: UUID,
    project: str,
    build_id: UUID,
    client_id: UUID,
    client_ip: str,
    progress: Progress,
) -> int:
    """Release the build and follow the deploy; the push's exit status (0 when live)."""
    version = await releases.release_from_build(project_id, build_id, client_id, client_ip)
    await progress.step(f"Releasing v{version}")
    return await follow_release(settings, project_id, project, version, progress)


async def follow_release(
    settings: Settings, project_id: UUID, project: str, version: int, progress: Progress
) -> int:
    """Print the release's events as they are written until it is live or failed."""
    woken = asyncio.Event()
    conn = await asyncpg.connect(settings.db.dsn(), timeout=10)
    deadline = time.monotonic() + settings.forge.deploy_wait_seconds
    try:
        await conn.add_listener(releases.EVENTS_CHANNEL, lambda *_: woken.set())
        seen = 0
        while time.monotonic() < deadline:
            woken.clear()
            for event in await releases.events_after(project_id, version, seen):
                seen = int(event["id"])
                done = await _show(settings, project, event, progress)
                if done is not None:
                    return done
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(woken.wait(), timeout=RECHECK_SECONDS)
    finally:
        with contextlib.suppress(Exception):
            await conn.close()
    await progress.fail(
        f"v{version} is still deploying after {settings.forge.deploy_wait_seconds:g} s;"
        " follow it with `paastech releases`"
    )
    return 1


async def _show(
    settings: Settings, project: str, event: dict[str, object], progress: Progress
) -> int | None:
    status, message = str(event["status"]), str(event["message"])
    if status == releases.LIVE:
        await progress.info(message)
        await progress.step(f"Live at {app_url(settings, project)}")
        return 0
    if status == releases.FAILED:
        reason, *lines = message.splitlines() or ["unknown reason"]
        await progress.fail(f"Deploy failed: {reason}")
        if lines:
            await progress.info("last lines of the app's log:")
            for line in lines:
                await progress.info(f"  {line}")
        await progress.info("the previous release (if any) keeps serving")
        return 1
    if status == releases.DEPLOYING:
        await progress.info(message)
    return None
