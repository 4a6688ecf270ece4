"""Sign up and log in: the only pages that talk to the gateway without a token."""

from __future__ import annotations

from nicegui import ui

from paastech_ui.session import Session
from paastech_ui.widgets import heading

MIN_PASSWORD = 10


def _card() -> ui.card:
    return ui.card().classes("w-full max-w-md mx-auto p-6 gap-3")


def login(session: Session) -> None:
    """Email and password → a session token kept in the user's storage."""
    if session.token is not None:
        ui.navigate.to("/")
        return
    with _card():
        heading("Log in", "Welcome back to PaaSTech.")
        email = ui.input("Email").props("type=email autocomplete=username").classes("w-full")
        password = ui.input("Password", password=True, password_toggle_button=True).props(
            "autocomplete=current-password"
        )
        password.classes("w-full")
        email.mark("login-email")
        password.mark("login-password")

        async def submit() -> None:
            address = email.value.strip()
            answer = await session.fetch(
                lambda gw: gw.login(address, password.value),
                anonymous=True,
                inputs={"email": email, "password": password},
            )
            if answer is None:
                return
            session.remember(answer.token, address)
            ui.navigate.to("/")

        password.on("keydown.enter", submit)
        ui.button("Log in", on_click=submit).classes("w-full").mark("login-submit")
        with ui.row().classes("gap-1"):
            ui.label("No account yet?")
            ui.link("Sign up", "/signup")


def signup(session: Session) -> None:
    """Create an account, then log in with it."""
    with _card():
        heading("Sign up", "Create your PaaSTech account.")
        email = ui.input("Email").props("type=email autocomplete=username").classes("w-full")
        password = ui.input("Password", password=True, password_toggle_button=True).props(
            f'autocomplete=new-password hint="At least {MIN_PASSWORD} characters"'
        )
        password.classes("w-full")
        again = ui.input("Repeat password", password=True).props("autocomplete=new-password")
        again.classes("w-full")
        email.mark("signup-email")
        password.mark("signup-password")
        again.mark("signup-repeat")

        async def submit() -> None:
            again.error = None
            if password.value != again.value:
                again.error = "The passwords differ"
                return
            address = email.value.strip()
            fields = {"email": email, "password": password}
            account = await session.fetch(
                lambda gw: gw.signup(address, password.value), anonymous=True, inputs=fields
            )
            if account is None:
                return
            answer = await session.fetch(
                lambda gw: gw.login(address, password.value), anonymous=True
            )
            if answer is None:
                ui.navigate.to("/login")
                return
            session.remember(answer.token, address)
            ui.notify(f"Welcome, {address}!", type="positive")
            ui.navigate.to("/")

        again.on("keydown.enter", submit)
        ui.button("Create account", on_click=submit).classes("w-full").mark("signup-submit")
        with ui.row().classes("gap-1"):
            ui.label("Already have an account?")
            ui.link("Log in", "/login")
