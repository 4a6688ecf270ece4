"""Builds (with their kept logs) and releases (with rollback) of one project."""

from __future__ import annotations

import contextlib

from nicegui import ui
from paastech_cli.errors import ApiError
from paastech_cli.schemas import Build, Release

from paastech_ui.pages.projects import status_badge
from paastech_ui.session import Session
from paastech_ui.widgets import Refresh, confirm, when

LOG_LINES = 5000


async def builds_panel(session: Session, name: str) -> None:
    """The build list; each build's log opens in a viewer below it."""
    found = await session.fetch(lambda gw: gw.list_builds(name))
    if found is None:
        return
    if not found:
        ui.label("No builds yet: push to the paastech remote to start one.").classes(
            "text-gray-600"
        )
        return

    async def show(build: Build) -> None:
        viewer.clear()
        viewer.visible = True
        viewer_title.text = f"Build #{build.number or build.id[:8]} log"
        follow = build.status in ("queued", "running", "building")
        try:
            async with (
                session.gateway() as gw,
                contextlib.aclosing(gw.build_log(name, build.id, follow=follow)) as lines,
            ):
                async for line in lines:
                    viewer.push(line)
        except ApiError as exc:
            session.report(exc)

    with ui.column().classes("w-full gap-1").mark("build-list"):
        for build in found:
            with ui.row().classes("w-full items-center gap-4 border-b py-1"):
                ui.label(f"#{build.number}" if build.number else build.id[:8]).classes(
                    "font-mono w-16"
                )
                status_badge(build.status)
                ui.label(build.ref or "").classes("font-mono")
                ui.label(build.commit_sha[:10]).classes("font-mono text-gray-600")
                ui.label(when(build.created_at)).classes("text-gray-600")
                if build.error:
                    ui.label(build.error).classes("text-red-700")
                ui.space()
                ui.button("Log", on_click=lambda b=build: show(b)).props("flat dense").mark(
                    f"build-log-{build.number or build.id}"
                )
    viewer_title = ui.label("").classes("font-semibold")
    viewer = ui.log(max_lines=LOG_LINES).classes("w-full h-96 bg-gray-900 text-gray-100")
    viewer.mark("build-log")
    viewer.visible = False


async def releases_panel(session: Session, name: str, *, live: int | None = None) -> None:
    """Release history, newest first, each with its status and the reason for it; the live
    release (``live``, else the newest) is marked, any other can be rolled back to."""

    @ui.refreshable
    async def listing() -> None:
        found = await session.fetch(lambda gw: gw.list_releases(name))
        if found is None:
            return
        if not found:
            ui.label("No releases yet.").classes("text-gray-600")
            return
        ordered = sorted(found, key=lambda r: r.version, reverse=True)
        current = live if live is not None else ordered[0].version
        with ui.column().classes("w-full gap-1").mark("release-list"):
            for release in ordered:
                _release_row(session, name, release, current=current, refresh=listing.refresh)

    await listing()


def _release_row(
    session: Session, name: str, release: Release, *, current: int, refresh: Refresh
) -> None:
    with ui.row().classes("w-full items-center gap-4 border-b py-1"):
        ui.label(f"v{release.version}").classes("font-mono font-semibold w-12")
        status_badge(release.status)
        with ui.column().classes("grow gap-0"):
            ui.label(release.description)
            if release.reason:
                colour = "text-red-700" if release.status == "failed" else "text-gray-600"
                ui.label(release.reason).classes(f"text-sm {colour}").mark(
                    f"release-reason-v{release.version}"
                )
        ui.label(when(release.created_at)).classes("text-gray-600")
        if release.version == current:
            ui.badge("live", color="positive", outline=True).mark("release-live")
            return

        async def rollback() -> None:
            if await session.act(
                lambda gw: gw.rollback(name, release.version),
                success=f"Rolling back to v{release.version} as a new release",
            ):
                await refresh()

        ask = confirm(
            f"Roll back to v{release.version}?",
            f"v{release.version}'s image and configuration run again as a new release.",
            "Roll back",
            rollback,
        )
        ui.button("Roll back…", on_click=ask).props("flat dense").mark(
            f"rollback-v{release.version}"
        )
