"""Runtime logs of all of a project's instances, merged: the last lines, or followed live."""

from __future__ import annotations

import asyncio
import contextlib

from nicegui import background_tasks, ui
from paastech_cli.errors import ApiError
from paastech_cli.schemas import LogLine

from paastech_ui.session import Session

MAX_LINES = 5000


def _format(entry: LogLine) -> str:
    stamp = entry.ts.strftime("%H:%M:%S")
    return f"{stamp} {entry.instance[:8]} {entry.stream}: {entry.line}"


def panel(session: Session, name: str) -> None:
    """A log viewer with a line count, a load button and a follow switch."""
    with ui.row().classes("items-center gap-4"):
        lines = ui.number("Lines", value=200, min=1, max=MAX_LINES, precision=0).classes("w-32")
        load = ui.button("Load", icon="refresh").mark("logs-load")
        follow = ui.switch("Follow").mark("logs-follow")
    viewer = ui.log(max_lines=MAX_LINES).classes("w-full h-96 bg-gray-900 text-gray-100")
    viewer.mark("runtime-log")
    task: list[asyncio.Task[None]] = []

    async def stream(keep_following: bool) -> None:
        viewer.clear()
        count = int(lines.value or 200)
        try:
            async with (
                session.gateway() as gw,
                contextlib.aclosing(gw.logs(name, lines=count, follow=keep_following)) as entries,
            ):
                async for entry in entries:
                    viewer.push(_format(entry))
        except ApiError as exc:
            session.report(exc)
            follow.value = False

    def stop() -> None:
        while task:
            task.pop().cancel()

    def start(keep_following: bool) -> None:
        stop()
        task.append(background_tasks.create(stream(keep_following), name=f"logs of {name}"))

    load.on_click(lambda: start(bool(follow.value)))
    follow.on_value_change(lambda e: start(True) if e.value else stop())
    # A followed stream lives as long as the tab: closing it closes the HTTP stream too.
    ui.context.client.on_disconnect(stop)
    ui.context.client.on_delete(stop)
