"""The projects list (status and URL at a glance) and the create-project form."""

from __future__ import annotations

from nicegui import ui
from paastech_cli.schemas import Project, ProjectKind

from paastech_ui.session import Session
from paastech_ui.widgets import heading

STATUS_COLORS = {
    "running": "positive",
    "deploying": "info",
    "building": "info",
    "created": "grey",
    "sleeping": "purple",
    "failed": "negative",
    "crashed": "negative",
    "stopped": "warning",
}


def status_badge(status: str) -> ui.badge:
    """A project's (or release's) status as a coloured badge."""
    return ui.badge(status or "unknown", color=STATUS_COLORS.get(status, "grey"))


async def index(session: Session) -> None:
    """Every project of the logged-in Client, with kind, status, release and URL."""
    if not session.require_login():
        return
    with ui.row().classes("w-full items-center"):
        heading("Projects")
        ui.space()
        ui.button("New project", icon="add", on_click=lambda: ui.navigate.to("/new")).mark(
            "new-project"
        )
    found = await session.fetch(lambda gw: gw.list_projects())
    if found is None:
        return
    if not found:
        with ui.card().classes("w-full items-center p-8"):
            ui.label("No projects yet.").classes("text-lg")
            ui.label("Create one, add your SSH key, then git push to deploy.")
        return
    with ui.column().classes("w-full gap-2").mark("project-list"):
        for project in found:
            _row(project)


def _row(project: Project) -> None:
    with (
        ui.card().classes("w-full").mark(f"project-{project.name}"),
        ui.row().classes("w-full items-center gap-4"),
    ):
        ui.link(project.name, f"/projects/{project.name}").classes("text-lg font-semibold")
        ui.badge(project.kind, color="indigo", outline=True)
        status_badge(project.status)
        release = f"v{project.current_release}" if project.current_release else "no release"
        ui.label(release).classes("text-gray-600")
        ui.space()
        if project.url:
            ui.link(project.url, project.url, new_tab=True).classes("text-sm")


def create(session: Session) -> None:
    """Name and kind of a new project; the gateway's validation is shown on the field."""
    if not session.require_login():
        return
    with ui.card().classes("w-full max-w-lg mx-auto p-6 gap-3"):
        heading("New project", "A Git repository you push to; it deploys on every push.")
        name = ui.input(
            "Name",
            placeholder="my-app",
        ).props('hint="3-40 characters: a-z, 0-9 and -, starting with a letter"')
        name.classes("w-full").mark("project-name")
        kind = ui.toggle(
            {"container": "Container app", "function": "Function (scales to zero)"},
            value="container",
        ).mark("project-kind")

        async def submit() -> None:
            chosen: ProjectKind = "function" if kind.value == "function" else "container"
            wanted = name.value.strip()
            made = await session.fetch(
                lambda gw: gw.create_project(wanted, chosen),
                inputs={"name": name},
            )
            if made is None:
                return
            ui.notify(f"Project {made.name} created", type="positive")
            ui.navigate.to(f"/projects/{made.name}")

        name.on("keydown.enter", submit)
        with ui.row().classes("w-full justify-end"):
            ui.button("Cancel", on_click=lambda: ui.navigate.to("/")).props("flat")
            ui.button("Create project", on_click=submit).mark("create-project")
