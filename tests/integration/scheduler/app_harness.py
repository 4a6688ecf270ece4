"""App jobs as the platform runs them: the real jobspec, submitted to the real Nomad.

Plain HTTP against Nomad for setup (the code under test reads through its own adapter).
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import msgspec

from paastech.db.tables import Client, Domain, Project
from paastech.scheduler.jobspec import ReleaseSpec, job_id, to_api

WAIT_SECONDS = 120.0


@dataclass(frozen=True)
class AppImage:
    repo: str
    digest: str
    marker: str
    """Text of the app's ``/`` page."""


@dataclass
class AppJobs:
    client: httpx.Client
    image: AppImage
    submitted: list[str] = field(default_factory=list)

    def run(
        self, project: str, *, instances: int = 1, health_path: str = "/", version: int = 1
    ) -> str:
        """Register the app job of ``project`` (a check on ``health_path``); its job id."""
        spec = ReleaseSpec(
            project=project,
            version=version,
            image=self.image.repo,
            digest=self.image.digest,
            instances=instances,
            cpu=100,
            memory=96,
            health_path=health_path,
        )
        body = to_api(spec)
        answer = self.client.post("/v1/jobs", content=msgspec.json.encode(body))
        assert answer.status_code == 200, answer.text
        self.submitted.append(job_id(project))
        return job_id(project)

    def allocations(self, job: str) -> list[dict[str, Any]]:
        answer = self.client.get(f"/v1/job/{job}/allocations")
        assert answer.status_code == 200, answer.text
        return list(answer.json())

    def wait_running(self, job: str, count: int) -> list[dict[str, Any]]:
        """The job's allocations once ``count`` of them run (blocking queries, no busy loop)."""
        return self.wait(
            job, lambda allocs: sum(a["ClientStatus"] == "running" for a in allocs) >= count
        )

    def wait(self, job: str, done: Callable[[list[dict[str, Any]]], bool]) -> list[dict[str, Any]]:
        deadline = time.monotonic() + WAIT_SECONDS
        index = 0
        seen: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            answer = self.client.get(
                f"/v1/job/{job}/allocations", params={"index": index, "wait": "5s"}, timeout=15
            )
            assert answer.status_code == 200, answer.text
            index = int(answer.headers.get("X-Nomad-Index", "0"))
            seen = answer.json()
            if done(seen):
                return seen
        raise AssertionError(f"{job}: allocations never got there: {seen}")

    def purge(self, job: str) -> None:
        self.client.delete(f"/v1/job/{job}", params={"purge": "true"})

    def purge_all(self) -> None:
        for job in self.submitted:
            self.purge(job)


async def add_project(
    name: str, domains: tuple[str, ...] = (), unverified: tuple[str, ...] = ()
) -> uuid.UUID:
    """A Client owning project ``name`` in PostgreSQL, with custom ``domains`` whose DNS
    ownership was proved and ``unverified`` claims; the project's id."""
    now = dt.datetime.now(dt.UTC)
    client = uuid.uuid4()
    await Client.insert(
        Client(id=client, email=f"{name}@example.com", password_hash="x", created_at=now)
    ).run()
    project = uuid.uuid4()
    await Project.insert(
        Project(id=project, client=client, name=name, created_at=now, updated_at=now)
    ).run()
    for hostname in domains:
        await Domain.insert(
            Domain(project=project, hostname=hostname, verified_at=now, created_at=now)
        ).run()
    for hostname in unverified:
        await Domain.insert(Domain(project=project, hostname=hostname, created_at=now)).run()
    return project
