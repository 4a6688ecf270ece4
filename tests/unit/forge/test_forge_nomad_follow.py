"""Following a build job: its end and its start are noticed from the job's own requests,
not when Nomad's late followed log stream gets there (fakes for Nomad and the Build row)."""

from __future__ import annotations

import asyncio
import uuid

from fakes import LateLogNomad, RecordedMarks

from paastech.forge.archive import ArchiveServer
from paastech.forge.build_job import markers
from paastech.forge.job_log import JobRun, JobSignals
from paastech.forge.nomad_builder import NomadBuilder, RegistryAccess
from paastech.settings import BuildSettings, NomadSettings

NONCE = "n0nce"
STEP, DIGEST, EXIT = markers(NONCE)
BUILD = uuid.UUID("12345678-1234-5678-1234-567812345678")


def builder(nomad: LateLogNomad, marks: RecordedMarks) -> NomadBuilder:
    archive = ArchiveServer(git="git", host="127.0.0.1", port=0, max_bytes=1, ttl_seconds=1)
    return NomadBuilder(
        nomad=nomad,  # type: ignore[arg-type]
        archive=archive,
        registry=RegistryAccess("127.0.0.1:5000"),
        build=BuildSettings(),
        nomad_settings=NomadSettings(),
        host_network=True,
        mark=marks,
    )


async def follow(
    nomad: LateLogNomad, signals: JobSignals | None = None
) -> tuple[asyncio.Task[JobRun], list[str], RecordedMarks]:
    marks = RecordedMarks()
    seen: list[str] = []

    async def emit(line: str) -> None:
        seen.append(line)

    task = asyncio.create_task(
        builder(nomad, marks).follow("job", BUILD, NONCE, emit, emit, signals)
    )
    await asyncio.sleep(0.05)
    return task, seen, marks


async def test_the_done_request_ends_the_follow_with_every_line_before_nomad_passes_them_on() -> (
    None
):
    """A finished build is answered without waiting for Nomad's followed log stream."""
    nomad = LateLogNomad()
    signals = JobSignals()
    nomad.write(f"{STEP}build\nStep 1/2 : FROM base\n")
    nomad.pass_on()
    task, seen, _ = await follow(nomad, signals)
    nomad.write(f"Step 2/2 : COPY . /app\n{STEP}push\n{DIGEST}sha256:abc\n{EXIT}0\n")
    nomad.write(" " * 65536)  # the script's filler, its newline still in Nomad's buffer
    signals.done.set()  # the followed stream never passes these lines on
    run = await asyncio.wait_for(task, 2)
    assert seen[-2:] == ["Step 1/2 : FROM base", "Step 2/2 : COPY . /app"]
    assert (run.exit_code, run.digest, run.step) == (0, "sha256:abc", "push")


async def test_lines_still_on_their_way_into_nomads_log_file_are_waited_for() -> None:
    """Nomad's log collector writes the last lines a little after the script's request."""
    nomad = LateLogNomad()
    signals = JobSignals()
    task, seen, _ = await follow(nomad, signals)
    signals.done.set()
    await asyncio.sleep(0.06)
    nomad.write(f"built\n{DIGEST}sha256:abc\n{EXIT}0\n")
    run = await asyncio.wait_for(task, 2)
    assert seen[-1] == "built"
    assert run.exit_code == 0


async def test_a_done_request_without_an_exit_line_goes_back_to_following() -> None:
    """The request only says "read now": the end is still the exit line (or Nomad's word)."""
    nomad = LateLogNomad()
    signals = JobSignals()
    task, seen, _ = await follow(nomad, signals)
    signals.done.set()
    await asyncio.sleep(0.5)
    assert not task.done()
    nomad.write(f"still building\n{EXIT}1\n")
    nomad.pass_on()
    run = await asyncio.wait_for(task, 2)
    assert seen[-1] == "still building"
    assert run.exit_code == 1


async def test_the_source_download_says_the_job_runs_before_its_first_line() -> None:
    """The pusher reads "running" (and the row records it) as soon as the task fetches."""
    nomad = LateLogNomad()
    signals = JobSignals()
    task, seen, marks = await follow(nomad, signals)
    assert marks.marks == []
    signals.fetched.set()
    await asyncio.sleep(0.05)
    assert seen == ["build job running on node node-1"]
    assert list(marks.marks[0]) == ["job_running_at"]
    nomad.write(f"hello\n{EXIT}0\n")
    signals.done.set()
    await asyncio.wait_for(task, 2)
    assert seen == ["build job running on node node-1", "hello"]
    assert len(marks.marks) == 1


async def test_a_reattached_job_ends_on_its_exit_line_or_nomads_word() -> None:
    """Without the job's requests (a restarted forge), the log and Nomad decide as before."""
    nomad = LateLogNomad()
    task, seen, marks = await follow(nomad)
    nomad.write("output\n")
    nomad.pass_on()
    await asyncio.sleep(0.05)
    assert seen == ["build job running on node node-1", "output"]
    assert list(marks.marks[0]) == ["job_running_at"]
    nomad.finish("failed")
    run = await asyncio.wait_for(task, 2)
    assert run.exit_code == 1
