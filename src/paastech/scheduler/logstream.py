"""Runtime logs of a project: every allocation's stdout and stderr, merged into one stream.

Nomad keeps a task's output as plain rotated files with **no timestamps**, so each line is
stamped with the time it reached the platform (``LogLine.ts``). For the lines already on
disk when the request starts (the "history") that is the time of the read, not the time the
app wrote them: history comes allocation by allocation (oldest first), stdout before stderr,
and only the last ``lines`` of it are shown. Lines that arrive while following are stamped
as they arrive and interleave in arrival order.

Where a history ends is known exactly: the size of the kept log files (``fs/ls``) is read
first, then one request asks for the bytes from ``size - tail`` on, with ``follow`` when
the allocation still runs; the first ``tail`` bytes are history, the rest is live. While
following, allocations come and go (a deploy, a restart, scale): a blocking query on the
job's allocations starts a reader for each new one and reads the rest of each one that
stopped without ``follow`` (Nomad keeps a followed stream open after the task dies).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from paastech.errors import BackendError, NotFound
from paastech.scheduler.nomad import NomadApi, is_terminal
from paastech.services import LogLine

log = logging.getLogger("paastech.scheduler.logs")

TASK = "app"  # jobspec's task name
STREAMS = ("stdout", "stderr")
_BYTES_PER_LINE = 512
_MAX_TAIL = 4 * 1024 * 1024
_HISTORY_WAIT = 3.0
_READ_WAIT = 30.0


def tail_bytes(lines: int) -> int:
    """How many bytes from the end are read to find the last ``lines`` lines."""
    return min(_MAX_TAIL, max(64 * 1024, lines * _BYTES_PER_LINE))


class _Reader:
    """One allocation's one stream: history first, then (maybe) live lines into ``live``."""

    def __init__(
        self, nomad: NomadApi, alloc_id: str, stream: str, tail: int, live: asyncio.Queue[LogLine]
    ) -> None:
        self.nomad, self.alloc_id, self.stream, self.tail = nomad, alloc_id, stream, tail
        self.live = live
        self.history: list[LogLine] = []
        self.history_done = asyncio.Event()
        self._history_end = 0  # absolute offset where history ends
        self._offset = 0  # absolute offset of the first byte not yet received
        self._buffer = b""
        self._skip_partial = False
        self.closed = False
        """Set once the history was taken: whatever comes later is live."""
        self._following = False

    async def start(self, follow: bool) -> None:
        """Read from ``tail`` bytes before the current end (0: everything is live)."""
        try:
            size = await self.nomad.log_size(self.alloc_id, TASK, self.stream)
        except BackendError:
            size = 0
        # One byte before the tail: when that byte ends a line, the stub skipped below is
        # empty and no whole line is lost.
        self._offset = max(0, size - self.tail - 1) if self.tail else 0
        self._history_end = size if self.tail else 0
        self._skip_partial = self._offset > 0  # starting mid-file: the first line is a stub
        await self.read(follow)

    async def read(self, follow: bool) -> None:
        """Stream from the current offset; without ``follow`` it ends at the end of the file."""
        # Without follow, the history is complete only once the stream ended (its last line
        # may lack a newline); with it, once the bytes up to the measured size arrived.
        self._following = follow
        if follow and self._offset >= self._history_end:
            self.history_done.set()
        try:
            async for chunk in self.nomad.logs(
                self.alloc_id, TASK, self.stream, offset=self._offset, follow=follow
            ):
                self._take(chunk)
        except NotFound:
            pass  # the allocation is gone (garbage-collected): nothing more to read
        except BackendError as exc:
            log.warning("logs of %s (%s) cut short: %s", self.alloc_id, self.stream, exc.message)
        if not follow:
            self.flush()
        self.history_done.set()

    def flush(self) -> None:
        """The last line of a finished stream, even without its newline."""
        if self._buffer:
            self._emit(self._buffer, self._offset)
            self._buffer = b""

    def _take(self, chunk: bytes) -> None:
        start = self._offset - len(self._buffer)
        self._offset += len(chunk)
        data = self._buffer + chunk
        *complete, self._buffer = data.split(b"\n")
        for raw in complete:
            start += len(raw) + 1
            if self._skip_partial:
                self._skip_partial = False
                continue
            self._emit(raw, start)
        if self._following and self._offset >= self._history_end:
            self.history_done.set()

    def _emit(self, raw: bytes, end: int) -> None:
        line = LogLine(
            ts=dt.datetime.now(dt.UTC),
            instance=self.alloc_id,
            stream=self.stream,
            line=raw.decode(errors="replace").rstrip("\r"),
        )
        if end <= self._history_end and not self.closed:
            self.history.append(line)
        else:
            self.live.put_nowait(line)


def shown(alloc: dict[str, Any]) -> bool:
    """Allocations whose logs a user wants: the live ones, and crashed ones not yet replaced."""
    if not is_terminal(alloc):
        return True
    return alloc.get("ClientStatus") == "failed" and not alloc.get("NextAllocation")


async def merged_logs(
    nomad: NomadApi, job_id: str, lines: int, follow: bool
) -> AsyncIterator[LogLine]:
    """The last ``lines`` lines of every shown allocation, then (``follow``) new ones forever."""
    every, index = await nomad.job_allocations(job_id)
    # A pending allocation has no log yet (Nomad refuses to read it): the watcher starts it.
    allocs = sorted(
        (a for a in every if shown(a) and a.get("ClientStatus") != "pending"),
        key=lambda a: int(a.get("CreateTime", 0)),
    )
    live: asyncio.Queue[LogLine] = asyncio.Queue()
    tasks: dict[tuple[str, str], asyncio.Task[None]] = {}
    readers: dict[tuple[str, str], _Reader] = {}
    first: list[_Reader] = []
    try:
        for alloc in allocs:
            for stream in STREAMS:
                reader = _Reader(nomad, str(alloc["ID"]), stream, tail_bytes(lines), live)
                key = (reader.alloc_id, stream)
                readers[key] = reader
                first.append(reader)
                tasks[key] = asyncio.create_task(reader.start(follow and not is_terminal(alloc)))
        with contextlib.suppress(TimeoutError):
            # Following, live lines must not wait long behind a slow history; without it
            # the history is the whole answer, worth a longer wait.
            async with asyncio.timeout(_HISTORY_WAIT if follow else _READ_WAIT):
                for reader in first:
                    await reader.history_done.wait()
        history = [line for reader in first for line in reader.history]
        for line in history[-lines:]:
            yield line
        for reader in first:
            reader.closed = True  # anything later counts as live
        if not follow:
            # Lines written after the sizes were read are not part of "the last N lines":
            # without follow the answer is the logs as they stood when it was asked.
            return
        done = {str(a["ID"]) for a in every if is_terminal(a)}
        merge = _Merge(nomad, live, tasks, readers, done)
        watcher = asyncio.create_task(_watch(merge, job_id, index))
        tasks[("", "watch")] = watcher
        while True:
            yield await live.get()
    finally:
        for task in tasks.values():
            task.cancel()
        await asyncio.gather(*tasks.values(), return_exceptions=True)


@dataclass
class _Merge:
    """The readers of one merged stream, and the queue their live lines go to."""

    nomad: NomadApi
    live: asyncio.Queue[LogLine]
    tasks: dict[tuple[str, str], asyncio.Task[None]]
    readers: dict[tuple[str, str], _Reader]
    finished: set[str]


async def _watch(merge: _Merge, job_id: str, index: int) -> None:
    """Follow the set of allocations: new ones are read from their first byte, stopped ones
    to their last."""
    nomad, live, tasks, readers, finished = (
        merge.nomad,
        merge.live,
        merge.tasks,
        merge.readers,
        merge.finished,
    )
    while True:
        try:
            allocs, index = await nomad.job_allocations(job_id, index)
        except BackendError as exc:
            log.warning("allocations of %s unreadable, retrying: %s", job_id, exc.message)
            await asyncio.sleep(1.0)
            continue
        for alloc in allocs:
            alloc_id = str(alloc["ID"])
            if alloc_id in finished:
                continue
            terminal = is_terminal(alloc)
            if not terminal and alloc.get("ClientStatus") != "running":
                continue  # no log to read yet; a later change of the allocations brings it
            for stream in STREAMS:
                key = (alloc_id, stream)
                if key not in readers:
                    # New since the stream began: everything it wrote is news (all of it,
                    # when it ran and stopped between two looks).
                    reader = _Reader(nomad, alloc_id, stream, 0, live)
                    readers[key] = reader
                    tasks[key] = asyncio.create_task(reader.start(follow=not terminal))
                elif terminal:
                    tasks[key].cancel()
                    # wait(), not await: the reader's cancellation must not be taken for
                    # this watcher's own (which has to end it when the stream closes).
                    await asyncio.wait({tasks[key]})
                    tasks[key] = asyncio.create_task(readers[key].read(follow=False))
            if terminal:
                finished.add(alloc_id)
