"""A starting forge settles every build a previous forge process left unfinished.

Level-triggered, as the other control loops: :func:`decide` looks at one Build row and
what Nomad says of its job, and says the one next step; :func:`recover_builds` applies it
to every ``queued`` or ``running`` row. No build stays ``running`` forever:

- ``queued`` -- it never started, and the push that wanted it is gone: failed, saying so
  (the commit is stored; pushing again builds it).
- ``running`` with no job yet -- it died before submitting: failed, saying so.
- ``running`` and Nomad has no such job -- failed, saying the job is gone.
- ``running`` and the job exists -- **reattach**: follow the job to its end (its output
  is appended to the kept log again from the start, after a line saying so), enforce what
  is left of the time limit (stopping the job in Nomad at the limit), and record the result.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import enum
import logging
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from piccolo.custom_types import Combinable

from paastech.db.tables import Build
from paastech.errors import BuildFailed, NotFound, PaasTechError
from paastech.forge.builds import append_log, mark_build
from paastech.forge.nomad_builder import NomadBuilder

log = logging.getLogger(__name__)

QUEUED_LOST = "the forge restarted before this build started; push again to build the commit"
UNSUBMITTED = "the forge restarted before the build job was submitted; push again to build it"
JOB_GONE = "the forge restarted and Nomad no longer has the build job {job}"


class Step(enum.Enum):
    FAIL = "fail"
    REATTACH = "reattach"


@dataclass(frozen=True)
class Decision:
    """The one next step for an unfinished build."""

    step: Step
    reason: str = ""


def decide(status: str, job_id: str, job_exists: bool) -> Decision:
    """What to do with a build left ``status`` whose job is ``job_id`` (maybe gone). Pure."""
    if status == "queued":
        return Decision(Step.FAIL, QUEUED_LOST)
    if not job_id:
        return Decision(Step.FAIL, UNSUBMITTED)
    if not job_exists:
        return Decision(Step.FAIL, JOB_GONE.format(job=job_id))
    return Decision(Step.REATTACH)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def _fail(build_id: UUID, reason: str) -> None:
    await append_log(build_id, f"! Build failed: {reason}\n")
    await mark_build(build_id, status="failed", error=reason, finished_at=_now())


async def recover_builds(
    builder: NomadBuilder, timeout_seconds: float, *, before: dt.datetime | None = None
) -> list[asyncio.Task[None]]:
    """Settle every unfinished build recorded ``before`` this forge started (the ones pushed
    to it since are its own, under way); returns the reattach tasks still following jobs."""
    unfinished: Combinable = Build.status.is_in(["queued", "running"])
    if before is not None:
        unfinished = unfinished & (Build.created_at < before)
    rows = (
        await Build.select(
            Build.id,
            Build.status,
            Build.job_id,
            Build.started_at,
            Build.project.name.as_alias("project"),
        )
        .where(unfinished)
        .order_by(Build.created_at)
    )
    tasks: list[asyncio.Task[None]] = []
    for row in rows:
        build_id = UUID(str(row["id"]))
        exists = False
        if row["job_id"]:
            try:
                await builder.nomad.job(row["job_id"])
                exists = True
            except NotFound:
                exists = False
        decision = decide(row["status"], row["job_id"], exists)
        log.info("recovering build %s (%s): %s", build_id, row["status"], decision.step.value)
        if decision.step is Step.FAIL:
            await _fail(build_id, decision.reason)
            continue
        tasks.append(asyncio.create_task(reattach(builder, row, timeout_seconds)))
    return tasks


async def reattach(builder: NomadBuilder, row: dict[str, Any], timeout_seconds: float) -> None:
    """Follow a build job a previous forge started, and record how it ends."""
    build_id = UUID(str(row["id"]))
    job_id: str = row["job_id"]
    started: dt.datetime = row["started_at"] or _now()
    left = max(1.0, timeout_seconds - (_now() - started).total_seconds())
    await append_log(
        build_id,
        f"-----> The forge restarted; reattached to {job_id} (its output again from the start)\n",
    )

    async def emit(line: str) -> None:
        await append_log(build_id, f"       {line}\n")

    try:
        try:
            async with asyncio.timeout(left):
                nonce = await builder.marker_of(job_id)
                run = await builder.follow(job_id, build_id, nonce, emit)
        except TimeoutError as exc:
            raise BuildFailed(f"build timed out after {timeout_seconds:g} s") from exc
        image = builder.image_for(row["project"], build_id)
        result = await builder.result(run, row["project"], image, refusal="")
    except (BuildFailed, PaasTechError) as exc:
        await _fail(build_id, exc.message)
        return
    except BaseException:
        await asyncio.shield(_fail(build_id, "internal error in the forge while reattaching"))
        raise
    finally:
        await asyncio.shield(builder.stop(job_id))
    await append_log(build_id, f"-----> Build succeeded: {result.image}\n")
    await mark_build(
        build_id,
        status="succeeded",
        image=result.image,
        digest=result.digest,
        finished_at=_now(),
    )
