"""What `paastech ps` and `paastech logs` read: a project's allocations with status, address
and release, and every instance's stdout and stderr merged, followed while instances come."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx
import pytest
from app_harness import AppJobs, add_project

from paastech import db
from paastech.scheduler.nomad import NomadApi
from paastech.scheduler.runtime import RuntimeReads
from paastech.services import Instance, LogLine
from paastech.settings import Settings

pytestmark = pytest.mark.integration


async def _healthy(reads: RuntimeReads, project: object, count: int) -> list[Instance]:
    deadline = time.monotonic() + 90
    found = await reads.instances(project)  # type: ignore[arg-type]
    while sum(i.status == "running" for i in found) < count:
        assert time.monotonic() < deadline, f"never {count} healthy: {found}"
        await asyncio.sleep(0.5)
        found = await reads.instances(project)  # type: ignore[arg-type]
    return found


async def test_instances_list_each_allocation_with_status_address_and_release(
    nomad_settings: Settings,
    nomad_api: NomadApi,
    app_jobs: AppJobs,
    project_name: Callable[[str], str],
    clean_db: object,
) -> None:
    """Two healthy instances of release v3 are listed running, each at the ip:port that
    answers with the app, with its start time."""
    name = project_name("ps")
    async with db.connected(nomad_settings.db):
        project = await add_project(name)
        reads = RuntimeReads(nomad_api)
        assert await reads.instances(project) == []
        app_jobs.run(name, instances=2, version=3)
        found = await _healthy(reads, project, 2)
    assert [i.release for i in found] == [3, 3]
    assert {i.status for i in found} == {"running"}
    assert all(i.started_at is not None for i in found)
    async with httpx.AsyncClient() as http:
        for instance in found:
            answer = await http.get(f"http://{instance.address}/", timeout=5)
            assert answer.text == app_jobs.image.marker + "\n"


async def test_logs_merge_instances_and_follow_a_new_one(
    nomad_settings: Settings,
    nomad_api: NomadApi,
    app_jobs: AppJobs,
    project_name: Callable[[str], str],
    clean_db: object,
) -> None:
    """History holds each instance's stdout; a followed stream then shows a request's stderr
    line from the instance that served it, and the first line of an instance added by scale."""
    name = project_name("logs")
    async with db.connected(nomad_settings.db), httpx.AsyncClient() as http:
        project = await add_project(name)
        reads = RuntimeReads(nomad_api)
        app_jobs.run(name, instances=1)
        (first,) = await _healthy(reads, project, 1)

        history = [line async for line in reads.logs(project, 100, False)]
        assert ("stdout", "started v1", first.id) in {
            (x.stream, x.line, x.instance) for x in history
        }
        assert len([x async for x in reads.logs(project, 1, False)]) == 1

        seen: list[LogLine] = []
        stream = reads.logs(project, 1, True)

        async def until(ok: Callable[[LogLine], bool]) -> LogLine:
            try:
                async with asyncio.timeout(90):
                    async for line in stream:
                        seen.append(line)
                        if ok(line):
                            return line
            except TimeoutError:
                raise AssertionError(f"not in the stream after 90 s: {seen}") from None
            raise AssertionError(f"stream ended: {seen}")

        await until(lambda _: True)  # the one history line
        await http.get(f"http://{first.address}/followed-{name}", timeout=5)
        served = await until(lambda x: f"/followed-{name}" in x.line)
        assert (served.instance, served.stream) == (first.id, "stderr")

        app_jobs.run(name, instances=2)
        started = await until(lambda x: x.line == "started v1" and x.instance != first.id)
        assert started.stream == "stdout"
        await stream.aclose()  # type: ignore[attr-defined]
