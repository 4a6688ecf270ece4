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
from paastech_cli.schemas import LogLine

_STREAM_STYLE = {"stderr": "red"}


def format_line(entry: LogLine) -> str:
    """``2026-01-01T10:00:00.123Z 3f2a9c1d stdout line`` (rich markup, the line escaped)."""
    ts = entry.ts.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    style = _STREAM_STYLE.get(entry.stream, "cyan")
    return f"[dim]{ts}[/] [{style}]{escape(entry.instance[:8])}[/] {escape(entry.line)}"


async def logs(
    *,
    follow: Annotated[
        bool, Parameter(name=["--follow", "-f"], negative="", show_default=False)
    ] = False,
    lines: Annotated[int, Parameter(name=["--lines", "-n"])] = 100,
    build: Annotated[str | None, Parameter(show_default=False)] = None,
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
    """
    rt = current()
    if follow:
        rt.interrupt_exit = 0
    name = target.name()
    async with target.client() as gw:
        # aclosing: an interrupt or a closed pipe ends the stream here, not at loop shutdown.
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
