"""A project's custom hostnames: add, list, remove."""

from __future__ import annotations

from nicegui import ui

from paastech_ui.session import Session
from paastech_ui.widgets import Refresh, confirm, when


async def panel(session: Session, name: str) -> None:
    """The domains list and the form to add one (validated by the gateway)."""

    @ui.refreshable
    async def listing() -> None:
        found = await session.fetch(lambda gw: gw.list_domains(name))
        if found is None:
            return
        if not found:
            ui.label("No custom domains.").classes("text-gray-600")
            return
        with ui.column().classes("w-full gap-1").mark("domain-list"):
            for domain in found:
                with ui.row().classes("w-full items-center gap-4 border-b py-1"):
                    ui.label(domain.hostname).classes("font-mono grow")
                    ui.label(when(domain.created_at)).classes("text-gray-600")
                    _remove_button(session, name, domain.hostname, listing.refresh)

    await listing()
    with ui.row().classes("w-full items-start gap-4"):
        hostname = ui.input("Hostname", placeholder="www.example.com").classes("w-96")
        hostname.mark("domain-new")

        async def add() -> None:
            wanted = hostname.value.strip().lower()
            if await session.act(
                lambda gw: gw.add_domain(name, wanted),
                success=f"{wanted} added; point its DNS at the platform's router",
                inputs={"hostname": hostname},
            ):
                hostname.value = ""
                await listing.refresh()

        ui.button("Add domain", on_click=add).mark("domain-add")


def _remove_button(session: Session, name: str, hostname: str, refresh: Refresh) -> None:
    async def remove() -> None:
        if await session.act(
            lambda gw: gw.remove_domain(name, hostname), success=f"{hostname} removed"
        ):
            await refresh()

    ask = confirm(f"Remove {hostname}?", "It stops routing to this app.", "Remove", remove)
    ui.button(icon="delete", on_click=ask).props("flat dense round color=negative").mark(
        f"domain-remove-{hostname}"
    )
