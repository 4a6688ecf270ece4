"""``paastech logs``: runtime logs of every instance, or one build's log; ``-f`` follows."""

from __future__ import annotations

import datetime as dt
from contextlib import aclosing
from typing import Annotated

import msgspec
from cyclopts import Parameter
from rich.markup import escape

from paastech_cli.builds import resolve_build
from paastech_cli.output import say
from paastech_cli.runtime import JsonFlag, Target, current
from paastech_cli.schemas import ColdStart, LogLine

_STREAM_STYLE = {"stderr": "red"}


def format_line(entry: LogLine) -> str:
    """``2026-01-01T10:00:00.123Z 3f2a9c1d stdout line`` (rich markup, the line escaped)."""
    ts = entry.ts.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    style = _STREAM_STYLE.get(entry.stream, "cyan")
    return f"[dim]{ts}[/] [{style}]{escape(entry.instance[:8])}[/] {escape(entry.line)}"


def format_cold_start(wake: ColdStart) -> str:
    """``2026-…Z cold start 812 ms (v3, 20 requests): placed 120 ms, image ready …``."""
    ts = wake.created_at.astimezone(dt.UTC).isoformat(timespec="milliseconds")
    phases = [
        ("placed", wake.placed_ms),
        ("image ready", wake.image_ready_ms),
        ("task started", wake.started_ms),
        ("first healthy answer", wake.first_answer_ms),
    ]
    parts = ", ".join(f"{label} {ms} ms" for label, ms in phases if ms is not None)
    release = f"v{wake.release}, " if wake.release is not None else ""
    held = "request" if wake.requests == 1 else "requests"
    return (
        f"[dim]{ts.replace('+00:00', 'Z')}[/] cold start {wake.total_ms} ms "
        f"({release}{wake.requests} {held} held): {parts}"
    )


async def logs(
    *,
    follow: Annotated[
        bool, Parameter(name=["--follow", "-f"], negative="", show_default=False)
    ] = False,
    lines: Annotated[int, Parameter(name=["--lines", "-n"])] = 100,
    build: Annotated[str | None, Parameter(show_default=False)] = None,
    cold_starts: Annotated[bool, Parameter(negative="", show_default=False)] = False,
    json: JsonFlag = False,
    target: Target = Target(),
) -> None:
    """Show the app's logs (all instances, merged), or a build's log with --build.

    With -f it keeps streaming until Ctrl-C, which exits cleanly (status 0).
    With --json each line is printed as one JSON object (NDJSON).

    For example:

        $ paastech logs -n 50
        $ paastech logs -f
        $ paastech logs --build 3f2a      # a build ID, or its first characters

    Parameters
    ----------
    follow
        Keep streaming new lines until interrupted.
    lines
        How many recent lines to show first.
    build
        Show this build's log instead of the runtime logs: its ID from `paastech builds`, or
        the first characters of it (enough to be unambiguous).
    cold_starts
        Show the latest wakes of a scale-to-zero app and where each one's time went.
    """
    rt = current()
    if follow:
        rt.interrupt_exit = 0
    name = target.name()
    async with target.client() as gw:
        # aclosing: an interrupt or a closed pipe ends the stream here, not at loop shutdown.
        if cold_starts:
            for wake in await gw.cold_starts(name):
                _write(msgspec.json.encode(wake)) if json else say(format_cold_start(wake))
            return
        if build is not None:
            build_id = await resolve_build(gw, name, build)
            async with aclosing(gw.build_log(name, build_id, follow=follow)) as texts:
                async for text in texts:
                    _write(msgspec.json.encode({"line": text}) if json else text.encode())
            return
        async with aclosing(gw.logs(name, lines=lines, follow=follow)) as entries:
            async for entry in entries:
                if json:
                    _write(msgspec.json.encode(entry))
                else:
                    say(format_line(entry))


def _write(data: bytes) -> None:
    out = current().stdout
    out.write(data.decode() + "\n")
    out.flush()
