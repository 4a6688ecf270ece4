"""A project's environment variables: masked by default, revealed on request, set and unset.

Each change makes the gateway create a release and redeploy when there is something running.
"""

from __future__ import annotations

import re

from nicegui import ui

from paastech_ui.session import Session
from paastech_ui.widgets import Refresh, confirm

KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


async def panel(session: Session, name: str) -> None:
    """The variables table with its reveal switch, and the form to set one."""
    reveal = ui.switch("Reveal values").mark("env-reveal")

    @ui.refreshable
    async def variables() -> None:
        shown = bool(reveal.value)
        found = await session.fetch(lambda gw: gw.get_env(name, reveal=shown))
        if found is None:
            return
        if not found.env:
            ui.label("No variables set.").classes("text-gray-600").mark("env-empty")
            return
        with ui.column().classes("w-full gap-1").mark("env-list"):
            for key, value in sorted(found.env.items()):
                with ui.row().classes("w-full items-center gap-4 border-b py-1"):
                    ui.label(key).classes("font-mono font-semibold w-64").mark(f"env-key-{key}")
                    ui.label(value).classes("font-mono grow break-all").mark(f"env-value-{key}")
                    _unset_button(session, name, key, variables.refresh)

    reveal.on_value_change(variables.refresh)
    await variables()

    with ui.card().classes("w-full"):
        ui.label("Set a variable").classes("font-semibold")
        with ui.row().classes("w-full items-start gap-4"):
            key = ui.input("Name", placeholder="DATABASE_URL").classes("w-64").mark("env-new-key")
            value = ui.input("Value", password=True, password_toggle_button=True).classes("grow")
            value.mark("env-new-value")

            async def set_variable() -> None:
                wanted = key.value.strip()
                if not KEY.match(wanted):
                    key.error = "Letters, digits and _, not starting with a digit"
                    return
                key.error = None
                if await session.act(
                    lambda gw: gw.update_env(name, {wanted: value.value}),
                    success=f"{wanted} set; a new release is rolling out",
                    inputs={wanted: key},
                ):
                    key.value = ""
                    value.value = ""
                    await variables.refresh()

            ui.button("Set", on_click=set_variable).mark("env-set")


def _unset_button(session: Session, name: str, key: str, refresh: Refresh) -> None:
    async def unset() -> None:
        if await session.act(
            lambda gw: gw.update_env(name, {key: None}),
            success=f"{key} unset; a new release is rolling out",
        ):
            await refresh()

    ask = confirm(f"Unset {key}?", "The app is redeployed without it.", "Unset", unset)
    ui.button(icon="delete", on_click=ask).props("flat dense round color=negative").mark(
        f"env-unset-{key}"
    )
