"""A project's custom hostnames: add, prove (DNS TXT challenge), list, remove."""

from __future__ import annotations

from nicegui import ui
from paastech_cli.schemas import Domain

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
                    if domain.verified:
                        ui.badge("verified", color="green").mark(f"domain-ok-{domain.hostname}")
                    else:
                        _challenge(session, name, domain, listing.refresh)
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
                success=f"{wanted} added; publish its TXT record, then verify it",
                inputs={"hostname": hostname},
            ):
                hostname.value = ""
                await listing.refresh()

        ui.button("Add domain", on_click=add).mark("domain-add")


def _challenge(session: Session, name: str, domain: Domain, refresh: Refresh) -> None:
    """What to publish to prove the name, and the button that checks it."""
    if domain.challenge_record:
        ui.label(f"TXT {domain.challenge_record} = {domain.challenge_value}").classes(
            "font-mono text-sm text-gray-700"
        ).mark(f"domain-txt-{domain.hostname}")

    async def verify() -> None:
        if await session.act(
            lambda gw: gw.verify_domain(name, domain.hostname),
            success=f"{domain.hostname} verified: it is routed now",
        ):
            await refresh()

    ui.button("Verify", on_click=verify).props("flat dense").mark(
        f"domain-verify-{domain.hostname}"
    )


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
