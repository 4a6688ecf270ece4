"""The logged-in account: who the token belongs to, password change, sign out everywhere."""

from __future__ import annotations

from nicegui import ui

from paastech_ui.session import Session
from paastech_ui.widgets import confirm, heading, logout, when


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
    _password_form(session)
    _sign_out_everywhere(session)


def _password_form(session: Session) -> None:
    with ui.card().classes("w-full max-w-lg"):
        ui.label("Change password").classes("font-semibold")
        ui.label("Your other login sessions are signed out; API tokens stay.").classes(
            "text-gray-600"
        )
        old = ui.input("Current password", password=True).classes("w-full")
        old.mark("password-current")
        new = ui.input("New password (at least 10 characters)", password=True)
        new.classes("w-full").mark("password-new")
        again = ui.input("New password again", password=True).classes("w-full")
        again.mark("password-again")

        async def change() -> None:
            again.error = None
            if new.value != again.value:
                again.error = "the passwords do not match"
                return
            revoked = await session.fetch(
                lambda gw: gw.change_password(old.value, new.value),
                inputs={"current_password": old, "new_password": new},
            )
            if revoked is None:
                return
            for element in (old, new, again):
                element.value = ""
            ui.notify(f"Password changed; {revoked} other session(s) signed out", type="positive")

        ui.button("Change password", on_click=change).mark("password-change")


def _sign_out_everywhere(session: Session) -> None:
    async def revoke_all() -> None:
        if await session.act(lambda gw: gw.revoke_all_tokens(), success="Signed out everywhere"):
            session.forget()
            ui.navigate.to("/login")

    with ui.card().classes("w-full max-w-lg"):
        ui.label("Sign out everywhere").classes("font-semibold")
        ui.label("Revokes every login and API token of this account, this one too.").classes(
            "text-gray-600"
        )
        ask = confirm(
            "Sign out everywhere?",
            "Every login and API token stops working, here too.",
            "Sign out everywhere",
            revoke_all,
        )
        ui.button("Sign out everywhere", on_click=ask).props("outline color=negative").mark(
            "revoke-all"
        )
