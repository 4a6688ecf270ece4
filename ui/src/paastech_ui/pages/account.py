"""The logged-in account: who the token belongs to."""

from __future__ import annotations

from nicegui import ui

from paastech_ui.session import Session
from paastech_ui.widgets import heading, logout, when


async def page(session: Session) -> None:
    """Email, id and creation date of the account, and log out."""
    if not session.require_login():
        return
    heading("Account")
    me = await session.fetch(lambda gw: gw.me())
    if me is None:
        return
    with ui.card().classes("w-full max-w-lg"):
        ui.label(f"Email: {me.email}").mark("account-email")
        ui.label(f"Account id: {me.id}").classes("font-mono")
        ui.label(f"Member since: {when(me.created_at)}")
        ui.button("Log out", on_click=lambda: logout(session)).props("outline")
