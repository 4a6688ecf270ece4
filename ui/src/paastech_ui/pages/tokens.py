"""API tokens for scripts and CI: create (the secret is shown once), list, revoke."""

from __future__ import annotations

from nicegui import ui
from paastech_cli.schemas import NewToken

from paastech_ui.session import Session
from paastech_ui.widgets import confirm, heading, when


def _show_once(made: NewToken) -> None:
    """The new token's secret in a dialog: copied now or never seen again."""
    with ui.dialog().props("persistent") as dialog, ui.card().classes("min-w-96"):
        ui.label(f"Token {made.name} created").classes("text-lg font-semibold")
        ui.label("Copy it now: it is shown only this once.").classes("text-red-700")
        ui.code(made.token, language="text").classes("w-full").mark("new-token")
        with ui.row().classes("w-full justify-end"):
            ui.button("Done", on_click=dialog.close).mark("token-done")
    # The secret leaves the page with the dialog.
    dialog.on_value_change(lambda e: None if e.value else dialog.delete())
    dialog.open()


async def page(session: Session) -> None:
    """The Client's live tokens (logins and API tokens) and the form to create one."""
    if not session.require_login():
        return
    heading("API tokens", "For scripts and CI: export PAASTECH_TOKEN=<token>.")

    @ui.refreshable
    async def listing() -> None:
        found = await session.fetch(lambda gw: gw.list_tokens())
        if found is None:
            return
        with ui.column().classes("w-full gap-1").mark("token-list"):
            for token in found:
                with ui.row().classes("w-full items-center gap-4 border-b py-1"):
                    ui.label(token.name).classes("font-semibold w-48")
                    ui.badge(token.kind or "api", color="grey", outline=True)
                    ui.label(f"created {when(token.created_at)}").classes("text-gray-600")
                    ui.label(f"expires {when(token.expires_at)}").classes("text-gray-600")
                    ui.label(f"last used {when(token.last_used_at)}").classes("text-gray-600")
                    ui.space()

                    async def revoke(token_id: str = token.id, label: str = token.name) -> None:
                        if await session.act(
                            lambda gw: gw.revoke_token(token_id), success=f"Token {label} revoked"
                        ):
                            await listing.refresh()

                    ask = confirm(
                        f"Revoke {token.name}?",
                        "Anything using it stops working.",
                        "Revoke",
                        revoke,
                    )
                    ui.button("Revoke", on_click=ask).props("flat dense color=negative").mark(
                        f"token-revoke-{token.name}"
                    )

    await listing()
    with ui.card().classes("w-full"):
        ui.label("Create a token").classes("font-semibold")
        with ui.row().classes("items-start gap-4"):
            name = ui.input("Name", placeholder="ci").classes("w-64").mark("token-name")
            days = ui.number("Expires in days (empty: never)", min=1, max=3650, precision=0)
            days.classes("w-64").mark("token-days")

            async def create() -> None:
                label = name.value.strip()
                expires = int(days.value) if days.value else None
                made = await session.fetch(
                    lambda gw: gw.create_token(label, expires),
                    inputs={"name": name, "expires_in_days": days},
                )
                if made is None:
                    return
                name.value = ""
                _show_once(made)
                await listing.refresh()

            ui.button("Create token", on_click=create).mark("token-create")
