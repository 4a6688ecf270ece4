"""Small building blocks shared by the pages: navigation, headings, tables, confirmations."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from nicegui import ui
from paastech_cli.errors import ApiError

from paastech_ui.session import Session

EMPTY = "\u2013"
"""What a table cell shows for no value (an en dash)."""

Refresh = Callable[[], Awaitable[object]]
"""A refreshable's ``refresh``: awaiting it rebuilds the section with fresh data."""

NAV = (("Projects", "/"), ("SSH keys", "/keys"), ("API tokens", "/tokens"), ("Audit", "/audit"))


def nav(session: Session) -> None:
    """The header's links: the app's sections when logged in, else sign up / log in."""
    if session.token is None:
        ui.space()
        ui.link("Log in", "/login").classes("text-white").mark("nav-login")
        ui.link("Sign up", "/signup").classes("text-white").mark("nav-signup")
        return
    for label, target in NAV:
        ui.link(label, target).classes("text-white no-underline")
    ui.space()
    ui.link(session.email or "account", "/account").classes("text-white").mark("nav-account")
    ui.button("Log out", on_click=lambda: logout(session)).props("flat color=white").mark("logout")


async def logout(session: Session) -> None:
    """Revoke the session's token at the gateway, then forget it here whatever happened."""
    if session.token is not None:
        try:
            async with session.gateway() as gw:
                await gw.logout()
        except ApiError:  # logging out here must work even when the gateway cannot revoke
            ui.notify("The gateway could not revoke the session; it was forgotten here.")
    session.forget()
    ui.navigate.to("/login")


def heading(text: str, subtitle: str = "") -> None:
    ui.label(text).classes("text-2xl font-semibold")
    if subtitle:
        ui.label(subtitle).classes("text-gray-600")


def when(value: dt.datetime | None) -> str:
    """A timestamp as people read it (UTC, minutes)."""
    if value is None:
        return EMPTY
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def table(
    columns: Sequence[tuple[str, str]], rows: list[dict[str, Any]], *, key: str, marker: str
) -> ui.table:
    """A plain table: (field, label) columns, one dict per row."""
    cols = [{"name": f, "label": label, "field": f, "align": "left"} for f, label in columns]
    result = ui.table(columns=cols, rows=rows, row_key=key).classes("w-full").mark(marker)
    result.props('flat bordered no-data-label="Nothing yet"')
    return result


def confirm(
    title: str,
    text: str,
    action: str,
    on_confirm: Callable[[], Awaitable[None]],
    *,
    typed: str = "",
) -> Callable[[], None]:
    """A handler that asks to confirm a consequential change, then runs ``on_confirm``.

    With ``typed``, the action stays disabled until that text is typed (as for deleting a
    project). The dialog is built when asked for and deleted when closed, so a page with
    many rows holds no hidden dialogs.
    """

    def ask() -> None:
        with ui.dialog() as dialog, ui.card().classes("min-w-96"):
            ui.label(title).classes("text-lg font-semibold")
            ui.label(text)
            echo = None
            if typed:
                echo = ui.input(f"Type {typed} to confirm").classes("w-full")
                echo.mark("confirm-typed")
            with ui.row().classes("w-full justify-end"):
                ui.button("Cancel", on_click=dialog.close).props("flat").mark("confirm-cancel")

                async def go() -> None:
                    dialog.close()
                    await on_confirm()

                ok = ui.button(action, on_click=go).props("color=negative").mark("confirm-ok")
                if echo is not None:
                    ok.bind_enabled_from(echo, "value", backward=lambda v: v == typed)
        dialog.on_value_change(lambda e: None if e.value else dialog.delete())
        dialog.open()

    return ask
