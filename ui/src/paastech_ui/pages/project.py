"""One project: tabs for overview (remote, URL, instances, resources), env, builds, releases,
domains and runtime logs, and deleting it."""

from __future__ import annotations

from nicegui import ui
from paastech_cli.schemas import Project

from paastech_ui.pages import deploys, domains, env, runtime_logs
from paastech_ui.pages.projects import status_badge
from paastech_ui.session import Session
from paastech_ui.widgets import EMPTY, confirm, table, when

_SETTLE_SECONDS = 2.0
"""How often the instances are listed again while one is still starting."""

TABS = (
    ("overview", "Overview"),
    ("env", "Environment"),
    ("builds", "Builds"),
    ("releases", "Releases"),
    ("domains", "Domains"),
    ("logs", "Logs"),
)


async def page(session: Session, name: str) -> None:
    """The project ``name``, or a not-found message when it is not the Client's."""
    if not session.require_login():
        return
    project = await session.fetch(lambda gw: gw.get_project(name))
    if project is None:
        ui.link("← All projects", "/")
        return
    with ui.row().classes("w-full items-center gap-3"):
        ui.link("Projects", "/").classes("text-gray-600")
        ui.label("/").classes("text-gray-400")
        ui.label(project.name).classes("text-2xl font-semibold").mark("project-title")
        ui.badge(project.kind, color="indigo", outline=True)
        status_badge(project.status)
        ui.space()
        if project.url:
            ui.link("Open app", project.url, new_tab=True)
    with ui.tabs().classes("w-full").props("align=left") as tabs:
        for key, label in TABS:
            ui.tab(key, label).mark(f"tab-{key}")
    with ui.tab_panels(tabs, value="overview").classes("w-full"):
        with ui.tab_panel("overview"):
            await overview(session, project)
        with ui.tab_panel("env"):
            await env.panel(session, project.name)
        with ui.tab_panel("builds"):
            await deploys.builds_panel(session, project.name)
        with ui.tab_panel("releases"):
            await deploys.releases_panel(session, project.name, live=project.current_release)
        with ui.tab_panel("domains"):
            await domains.panel(session, project.name)
        with ui.tab_panel("logs"):
            runtime_logs.panel(session, project.name)


async def overview(session: Session, project: Project) -> None:
    """How to deploy, where it runs, and its resources (editable within the platform limits)."""
    with ui.card().classes("w-full"):
        ui.label("Live").classes("text-lg font-semibold")
        with ui.row().classes("items-center gap-6"):
            with ui.row().classes("items-center gap-1"):
                ui.label("URL:")
                if project.url:
                    ui.link(project.url, project.url, new_tab=True).mark("project-url")
                else:
                    ui.label(EMPTY).mark("project-url")
            release = f"v{project.current_release}" if project.current_release else "none yet"
            ui.label(f"Live release: {release}").mark("live-release")
            ui.label(f"Created: {when(project.created_at)}")
    with ui.card().classes("w-full"):
        ui.label("Deploy with git").classes("text-lg font-semibold")
        ui.label(
            "The CLI's projects create, run inside your repository, adds this remote;"
            " otherwise add it once. Every push to main builds and deploys:"
        )
        remote = f"git remote add paastech {project.git_url}"
        ui.code(f"{remote}\ngit push paastech main", language="bash").classes("w-full").mark(
            "git-remote"
        )
        with ui.row().classes("gap-6").mark("sleep-state"):
            ui.label(f"Kind: {project.kind}")
            ui.label(f"Idle timeout: {project.idle_timeout} s")
            ui.label("Asleep" if project.asleep else "Awake")
            ui.label(f"Invocations: {project.invocations or 0}")
    _settings_card(session, project)
    await _instances_card(session, project.name)
    if project.scale_to_zero:
        await _cold_starts_card(session, project.name)
    _danger_card(session, project.name)


def _settings_card(session: Session, project: Project) -> None:
    with ui.card().classes("w-full"):
        ui.label("Scale and resources").classes("text-lg font-semibold")
        with ui.row().classes("w-full gap-4"):
            instances = ui.number("Instances", value=project.instances, min=0, precision=0)
            cpu = ui.number("CPU (MHz)", value=project.cpu, min=1, precision=0)
            memory = ui.number("Memory (MB)", value=project.memory, min=1, precision=0)
            idle = ui.number("Idle timeout (s)", value=project.idle_timeout, min=1, precision=0)
        zero = ui.switch("Scale to zero when idle", value=bool(project.scale_to_zero))
        instances.mark("set-instances")
        cpu.mark("set-cpu")
        memory.mark("set-memory")
        idle.mark("set-idle-timeout")
        zero.mark("set-scale-to-zero")
        inputs = {"instances": instances, "cpu": cpu, "memory": memory, "idle_timeout": idle}

        def number(element: ui.number) -> int | None:
            return None if element.value is None else int(element.value)

        async def save() -> None:
            await session.act(
                lambda gw: gw.update_project(
                    project.name,
                    instances=number(instances),
                    cpu=number(cpu),
                    memory=number(memory),
                    idle_timeout=number(idle),
                    scale_to_zero=bool(zero.value),
                ),
                success="Saved; a running app is redeployed with the new settings.",
                inputs=inputs,
            )

        ui.button("Save", on_click=save).mark("save-settings")


async def _cold_starts_card(session: Session, name: str) -> None:
    with ui.card().classes("w-full"):
        ui.label("Cold starts").classes("text-lg font-semibold")
        found = await session.fetch(lambda gw: gw.cold_starts(name))
        if not found:
            ui.label("No wake yet.").classes("text-gray-600")
            return
        rows = [
            {
                "at": when(c.created_at),
                "total": c.total_ms,
                "placed": c.placed_ms,
                "image": c.image_ready_ms,
                "started": c.started_ms,
                "healthy": c.first_answer_ms,
                "requests": c.requests,
            }
            for c in found
        ]
        columns = [
            ("at", "When"),
            ("total", "Total (ms)"),
            ("placed", "Placed"),
            ("image", "Image ready"),
            ("started", "Task started"),
            ("healthy", "First healthy answer"),
            ("requests", "Requests held"),
        ]
        table(columns, rows, key="at", marker="cold-starts")


async def _instances_card(session: Session, name: str) -> None:
    with ui.card().classes("w-full"):
        with ui.row().classes("w-full items-center"):
            ui.label("Instances").classes("text-lg font-semibold")
            ui.space()
            refresh = ui.button(icon="refresh").props("flat dense").mark("instances-refresh")
        await _instances(session, name, refresh)


async def _instances(session: Session, name: str, refresh: ui.button) -> None:
    async def again() -> None:
        await listing.refresh()

    # While an instance is still starting (Nomad's servers hear of a running task a moment
    # after it already answers) the instances are listed again every few seconds.
    settle = ui.timer(_SETTLE_SECONDS, again, active=False)

    @ui.refreshable
    async def listing() -> None:
        found = await session.fetch(lambda gw: gw.instances(name))
        settle.active = found is not None and any(i.status == "pending" for i in found)
        if found is None:
            ui.label("Instance status is unavailable right now.").classes("text-gray-600")
            return
        if not found:
            ui.label("No instances are running.").mark("instances-empty").classes("text-gray-600")
            return
        rows = [
            {
                "id": i.id[:8],
                "status": i.status,
                "address": i.address,
                "release": f"v{i.release}" if i.release else EMPTY,
                "started": when(i.started_at),
            }
            for i in found
        ]
        columns = [
            ("id", "ID"),
            ("status", "Status"),
            ("release", "Release"),
            ("address", "Address"),
            ("started", "Started"),
        ]
        table(columns, rows, key="id", marker="instances")

    await listing()
    refresh.on_click(listing.refresh)


def _danger_card(session: Session, name: str) -> None:
    with ui.card().classes("w-full border border-red-300"):
        ui.label("Delete project").classes("text-lg font-semibold text-red-700")
        ui.label("Stops the app and removes its repository, images, domains and data.")

        async def delete() -> None:
            if await session.act(lambda gw: gw.delete_project(name), success=f"Deleted {name}"):
                ui.navigate.to("/")

        ask = confirm(
            f"Delete {name}?",
            "This cannot be undone.",
            "Delete for good",
            on_confirm=delete,
            typed=name,
        )
        ui.button("Delete…", on_click=ask).props("color=negative outline").mark("delete-project")
