"""Test-side helpers for the Nomad dev agent: submit a job, wait for it, read it back.

Plain HTTP against Nomad's API (the platform's own adapter lives in ``paastech.scheduler``);
each helper that starts something returns or registers its cleanup.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

WAIT_SECONDS = 120.0


def job_spec(job_id: str, job_type: str, group: dict[str, Any]) -> dict[str, Any]:
    """A job of one task group in the dev datacenter."""
    return {
        "Job": {
            "ID": job_id,
            "Name": job_id,
            "Type": job_type,
            "Datacenters": ["dc1"],
            "TaskGroups": [group],
        }
    }


def submit(client: httpx.Client, spec: dict[str, Any]) -> str:
    """Register ``spec``; the job's ID."""
    r = client.post("/v1/jobs", json=spec)
    assert r.status_code == 200, r.text
    return str(spec["Job"]["ID"])


def purge(client: httpx.Client, job_id: str) -> None:
    """Stop and forget a job (no allocation left running)."""
    client.delete(f"/v1/job/{job_id}", params={"purge": "true"})


def wait_alloc(client: httpx.Client, job_id: str, statuses: set[str]) -> dict[str, Any]:
    """The job's first allocation once its client status is one of ``statuses``.

    Uses Nomad's blocking queries (``index`` + ``wait``), so no busy polling.
    """
    deadline = time.monotonic() + WAIT_SECONDS
    index = 0
    seen: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        r = client.get(
            f"/v1/job/{job_id}/allocations", params={"index": index, "wait": "5s"}, timeout=15
        )
        assert r.status_code == 200, r.text
        index = int(r.headers.get("X-Nomad-Index", "0"))
        seen = r.json()
        for alloc in seen:
            if alloc["ClientStatus"] in statuses:
                return dict(alloc)
            if alloc["ClientStatus"] == "failed" and "failed" not in statuses:
                detail = client.get(f"/v1/allocation/{alloc['ID']}").json()
                raise AssertionError(f"allocation failed: {detail.get('TaskStates')}")
    raise AssertionError(f"no allocation of {job_id} reached {statuses}: {seen}")


def task_log(client: httpx.Client, alloc_id: str, task: str, stream: str = "stdout") -> str:
    """The whole of a task's stdout or stderr, read through Nomad's log API."""
    r = client.get(
        f"/v1/client/fs/logs/{alloc_id}",
        params={"task": task, "type": stream, "origin": "start", "offset": 0, "plain": "true"},
    )
    assert r.status_code == 200, r.text
    return r.text
