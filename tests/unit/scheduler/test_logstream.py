"""Merged runtime logs: the last N lines of every instance, exactly where history ends, then
live lines from instances old and new."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import cast

from fakes import FakeNomadLogs

from paastech.scheduler.logstream import merged_logs
from paastech.scheduler.nomad import NomadApi
from paastech.services import LogLine


def stream(nomad: FakeNomadLogs, lines: int, follow: bool) -> AsyncIterator[LogLine]:
    return merged_logs(cast(NomadApi, nomad), "paastech-shop", lines, follow)


async def test_history_is_the_last_lines_of_each_instance_oldest_first() -> None:
    """Instances oldest first, stdout then stderr, and only the last ``lines`` in all."""
    nomad = FakeNomadLogs()
    nomad.alloc("old", created=1)
    nomad.alloc("new", created=2)
    nomad.write("old", "stdout", b"o1\no2\n")
    nomad.write("new", "stdout", b"n1\n")
    nomad.write("new", "stderr", b"e1\nlast without newline")
    got = [(x.instance, x.stream, x.line) async for x in stream(nomad, 4, False)]
    assert got == [
        ("old", "stdout", "o2"),
        ("new", "stdout", "n1"),
        ("new", "stderr", "e1"),
        ("new", "stderr", "last without newline"),
    ]


async def test_a_long_log_is_read_from_near_its_end_without_a_cut_first_line() -> None:
    """Only the tail is fetched; the partial line the tail starts in is not shown."""
    nomad = FakeNomadLogs()
    nomad.alloc("a")
    nomad.write("a", "stdout", b"".join(b"line %06d\n" % i for i in range(20_000)))
    got = [x.line async for x in stream(nomad, 3, False)]
    assert got == ["line 019997", "line 019998", "line 019999"]
    (offset,) = {off for alloc, s, off, _ in nomad.reads if s == "stdout"}
    assert offset > 0


async def test_follow_shows_new_lines_and_instances_that_start_later() -> None:
    """After the history: lines appended to a running instance, then a new instance's lines
    from its very first, and the rest of an instance that stopped."""
    nomad = FakeNomadLogs()
    nomad.alloc("a")
    nomad.write("a", "stdout", b"before\n")
    nomad.alloc("pending", status="pending")
    seen: list[tuple[str, str]] = []
    source = stream(nomad, 10, True)

    async def take(count: int) -> None:
        async with asyncio.timeout(5):
            while len(seen) < count:
                line = await anext(source)
                seen.append((line.instance, line.line))

    await take(1)
    nomad.write("a", "stdout", b"during\n")
    await take(2)
    nomad.write("pending", "stdout", b"first of b\n")
    nomad.alloc("pending", status="running")
    await take(3)
    nomad.write("a", "stderr", b"goodbye\n")
    nomad.alloc("a", status="complete")
    await take(4)
    await source.aclose()  # type: ignore[attr-defined]
    assert seen == [
        ("a", "before"),
        ("a", "during"),
        ("pending", "first of b"),
        ("a", "goodbye"),
    ]
