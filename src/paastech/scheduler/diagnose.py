"""Why a deployment failed, in words a Client can act on, plus the app's last log lines.

Read from what Nomad recorded of the deployment's allocations: the task's events (an image
that could not be pulled, an OOM kill, an exit at start) and, for an app that runs but never
turns healthy, its check results. The parsing is pure (:func:`reason_of`) so it is tested
table-driven; :func:`failure` fetches what it needs.
"""

from __future__ import annotations

import contextlib
from typing import Any

from paastech.errors import PaasTechError
from paastech.scheduler.nomad import NomadApi

TASK = "app"
LAST_LINES = 20
MAX_LOG_BYTES = 64 * 1024


def _events(alloc: dict[str, Any]) -> list[dict[str, Any]]:
    state = (alloc.get("TaskStates") or {}).get(TASK) or {}
    return list(state.get("Events") or [])


def reason_of(
    alloc: dict[str, Any], checks: dict[str, dict[str, Any]], check: str = "its health check"
) -> str | None:
    """The reason one allocation failed, or None when it shows none.

    ``check`` names the health check (``GET /health``) for an app that never passed it.
    """
    events = _events(alloc)
    for event in events:
        error = str(event.get("DriverError") or "")
        if event.get("Type") == "Driver Failure" or "pull" in error.lower():
            text = error or str(event.get("DisplayMessage") or "")
            return f"image pull error: {text.strip()[:300]}"
    for event in reversed(events):
        details = event.get("Details") or {}
        if details.get("oom_killed") == "true" or "OOM" in str(event.get("DisplayMessage", "")):
            memory = (alloc.get("AllocatedResources") or {}).get("Tasks", {}).get(TASK, {})
            limit = (memory.get("Memory") or {}).get("MemoryMB")
            where = f" of {limit} MB" if limit else ""
            return f"out of memory: the app was killed at its memory limit{where}"
    state = (alloc.get("TaskStates") or {}).get(TASK) or {}
    exits = [e for e in events if e.get("Type") == "Terminated"]
    if exits:
        code = exits[-1].get("ExitCode", (exits[-1].get("Details") or {}).get("exit_code"))
        restarts = int(state.get("Restarts") or 0)
        again = f" (restarted {restarts} times)" if restarts else ""
        return f"the app crashed at start: it exited with code {code}{again}"
    failing = [c for c in checks.values() if c.get("Status") != "success"]
    if failing or (alloc.get("DeploymentStatus") or {}).get("Healthy") is False:
        if failing:
            output = str(failing[0].get("Output") or "").strip().splitlines()
            said = f": {output[0][:200]}" if output else ""
            return f"health check failed{said}"
        return f"health check failed: {check} never answered 2xx before the deadline"
    return None


async def last_lines(nomad: NomadApi, alloc_id: str, count: int = LAST_LINES) -> list[str]:
    """The last ``count`` lines the app wrote (stderr after stdout; Nomad keeps them apart)."""
    lines: list[str] = []
    for stream in ("stdout", "stderr"):
        data = b""
        with contextlib.suppress(PaasTechError):
            async for chunk in nomad.logs(alloc_id, TASK, stream):
                data = (data + chunk)[-MAX_LOG_BYTES:]
        lines += data.decode(errors="replace").splitlines()
    return [line for line in lines if line.strip()][-count:]


async def failure(
    nomad: NomadApi, job_id: str, deployment: dict[str, Any], check: str = "its health check"
) -> tuple[str, list[str]]:
    """(reason, the app's last log lines) for a failed deployment of ``job_id``."""
    allocs, _ = await nomad.job_allocations(job_id)
    # The list's stubs carry no deployment id: the deployment's instances are its version's.
    version = deployment.get("JobVersion")
    mine = [a for a in allocs if a.get("JobVersion") == version]
    mine.sort(key=lambda a: int(a.get("CreateIndex", 0)), reverse=True)
    for stub in mine:
        alloc, _ = await nomad.allocation(stub["ID"])
        checks = await nomad.allocation_checks(stub["ID"])
        reason = reason_of(alloc, checks, check)
        if reason is not None:
            return reason, await last_lines(nomad, stub["ID"])
    description = str(deployment.get("StatusDescription") or "the deployment failed")
    lines = await last_lines(nomad, mine[0]["ID"]) if mine else []
    return description, lines
