"""A build job's log as the forge reads it: two followed streams, one queue, the markers.

:class:`JobLog` follows the task's stdout and stderr through Nomad's log API into one
queue, passes each line on to the pusher (``emit``) and reads the script's marker lines
(:func:`paastech.forge.build_job.markers`) into a :class:`JobRun`. It also says, once,
that the job runs (on its first line, or earlier when the task fetched its source), and
can read the rest of the log at once, without ``follow``, when the job says it is done.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from uuid import UUID

import httpx

from paastech.errors import PaasTechError
from paastech.forge.build_job import TASK, markers
from paastech.scheduler.nomad import NomadApi

log = logging.getLogger(__name__)

Emit = Callable[[str], Awaitable[None]]
Mark = Callable[..., Awaitable[None]]
_TAIL = 40
# After the done URL's POST the exit line may still be on its way through Nomad's log
# collector into the file (the script's filler makes that quick; without it the collector
# writes every 100 ms): re-reads covering two such periods (a read takes about 10 ms),
# then the followed stream takes over again.
_DONE_READS = 12
_DONE_READ_GAP = 0.015


@dataclass
class JobRun:
    """What following a build job found."""

    alloc_id: str = ""
    exit_code: int | None = None
    digest: str = ""
    step: str = ""
    event: str = ""
    node: str = ""
    tail: collections.deque[str] = field(default_factory=lambda: collections.deque(maxlen=_TAIL))


@dataclass
class JobSignals:
    """What the job's own requests to the forge tell about it (none for a reattached job).

    ``fetched`` is set when the task downloads its source (it is running then), ``done``
    when its script has printed its last line.
    """

    fetched: asyncio.Event = field(default_factory=asyncio.Event)
    done: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class _Stream:
    name: str
    offset: int = 0
    partial: bytes = b""

    def split(self, chunk: bytes) -> list[str]:
        self.offset += len(chunk)
        data = self.partial + chunk
        *lines, self.partial = data.split(b"\n")
        return [_clean(line) for line in lines]

    def rest(self) -> list[str]:
        rest, self.partial = self.partial, b""
        return [_clean(rest)] if rest else []


class JobLog:
    """Follows the task's two log streams into one queue and reads the markers from it."""

    def __init__(  # noqa: PLR0917 - one reader's whole context
        self,
        nomad: NomadApi,
        mark: Mark,
        run: JobRun,
        nonce: str,
        emit: Emit,
        say: Emit,
        build_id: UUID,
    ) -> None:
        self.nomad = nomad
        self.mark = mark
        self.run = run
        self.nonce = nonce
        self.emit = emit
        self.say = say
        self.build_id = build_id
        self.ended = asyncio.Event()
        self.streams = [_Stream("stdout"), _Stream("stderr")]
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._pumps: list[asyncio.Task[None]] = []
        self._consumer: asyncio.Task[None] | None = None
        self._announced: asyncio.Task[None] | None = None
        self._reading: asyncio.Future[list[None]] | None = None

    def start(self) -> None:
        self._consumer = asyncio.create_task(self._consume())
        self._follow()

    def _follow(self) -> None:
        self._pumps = [asyncio.create_task(self._pump_until_cancelled(s)) for s in self.streams]

    async def _stop_following(self) -> None:
        for pump in self._pumps:
            pump.cancel()
        await asyncio.gather(*self._pumps, return_exceptions=True)
        self._pumps = []

    def announce(self) -> asyncio.Task[None]:
        """Record and say, once, that the job runs (its first fetch or line, whichever first)."""
        if self._announced is None:
            self._announced = asyncio.create_task(self._running())
        return self._announced

    async def _running(self) -> None:
        try:
            await self.mark(self.build_id, job_running_at=dt.datetime.now(dt.UTC))
            await self.say(f"build job running on node {self.run.node or '?'}")
        except Exception:  # a lost terminal or database must not stop the reading
            log.exception("cannot record that build %s runs", self.build_id)

    async def read_at_once(self) -> None:
        """Read what the log holds now, without waiting for the followed streams.

        Back to following when the exit line is not there (yet) after a few reads.
        """
        await self._stop_following()
        for attempt in range(_DONE_READS):
            if attempt:
                await asyncio.sleep(_DONE_READ_GAP)
            await self._read_rest()
            await self.queue.join()
            if self.ended.is_set():
                return
        self._follow()

    async def _read_rest(self) -> None:
        # Shielded, so a cancelled caller leaves a read in flight: the next read waits for
        # it rather than reading the same bytes a second time.
        if self._reading is not None and not self._reading.done():
            await asyncio.shield(self._reading)
        self._reading = asyncio.ensure_future(
            asyncio.gather(*(self._read_once(s) for s in self.streams))
        )
        await asyncio.shield(self._reading)

    async def _read_once(self, stream: _Stream) -> None:
        with contextlib.suppress(PaasTechError, httpx.HTTPError):
            await self._pump(stream, follow=False)

    async def finish(self) -> None:
        """Stop following, pass on what is left, and wait until every line is handled."""
        await self._stop_following()
        if not self.ended.is_set():
            # What the followers had not received yet, read once from where they stopped.
            await self._read_rest()
        for stream in self.streams:
            for line in stream.rest():
                self.queue.put_nowait(line)
        self.queue.put_nowait(None)
        if self._consumer is not None:
            await asyncio.shield(self._consumer)

    async def _pump_until_cancelled(self, stream: _Stream) -> None:
        # Before the task starts Nomad has no log to follow; a dropped stream resumes at
        # the offset already read.
        while True:
            with contextlib.suppress(PaasTechError, httpx.HTTPError):
                await self._pump(stream, follow=True)
            await asyncio.sleep(0.1)

    async def _pump(self, stream: _Stream, *, follow: bool) -> None:
        async for chunk in self.nomad.logs(
            self.run.alloc_id, TASK, stream.name, offset=stream.offset, follow=follow
        ):
            for line in stream.split(chunk):
                self.queue.put_nowait(line)

    async def _consume(self) -> None:
        step, digest, done = markers(self.nonce)
        run = self.run
        while (line := await self.queue.get()) is not None:
            try:
                if self.ended.is_set():
                    continue  # the exit line is the script's last word (then filler)
                await self.announce()
                if line.startswith(step):
                    run.step = line.removeprefix(step).strip()
                elif line.startswith(digest):
                    run.digest = line.removeprefix(digest).strip()
                elif line.startswith(done):
                    code = line.removeprefix(done).strip()
                    run.exit_code = int(code) if code.isdigit() else 1
                    self.ended.set()
                else:
                    run.tail.append(line)
                    await self.emit(line)
            except Exception:  # a lost terminal or database must not stop the reading
                log.exception("cannot pass on a line of build output")
            finally:
                self.queue.task_done()
        self.queue.task_done()


async def announce_on(event: asyncio.Event, reader: JobLog) -> None:
    """Have ``reader`` announce the job running once ``event`` is set."""
    await event.wait()
    # Shielded: cancelling this waiter must not cancel the announcement the reader awaits.
    await asyncio.shield(reader.announce())


def _clean(line: bytes) -> str:
    # PostgreSQL text cannot hold NUL; a build's output can.
    return line.decode("utf-8", "replace").rstrip("\r").replace("\x00", "")
