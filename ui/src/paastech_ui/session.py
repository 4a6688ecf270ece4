"""One browser session: its token, its gateway client, and how API errors reach the user.

The token lives in NiceGUI's per-user storage (``app.storage.user``, kept on the dashboard's
server and keyed by a signed session cookie): never in a URL, a page or a log line.

Every call carries ``X-Forwarded-For``: the chain the dashboard received plus the browser's
address as the dashboard saw it, so a gateway that trusts the dashboard (its address in
``gateway.trusted_proxies``) throttles and audits the user's address, not the dashboard's;
whatever a browser writes into the header itself stays to the left, ignored.

Every call to the gateway goes through :meth:`Session.fetch` or :meth:`Session.act`, which
turn the client's error tree (:mod:`paastech_cli.errors`) into what a user can act on, in one
place: an expired token sends them to the login page, a backend that is down shows the banner,
an invalid field is marked on its input, anything else is a notification.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from nicegui import app, ui
from nicegui.elements.mixins.validation_element import ValidationElement
from paastech_cli.api import GatewayClient
from paastech_cli.errors import ApiError, BackendUnavailable, InvalidInput, Unauthenticated

from paastech_ui.config import UiConfig

T = TypeVar("T")
Field = ValidationElement[Any]
"""An input that can show an error message under itself (``ui.input``, ``ui.number`` …)."""

TOKEN_KEY = "token"  # noqa: S105 - the storage key's name, not a secret
EMAIL_KEY = "email"


class Banner:
    """The strip under the header that says the platform's backend is unavailable."""

    def __init__(self) -> None:
        with (
            ui.row()
            .classes("w-full items-center gap-2 bg-red-100 text-red-900 px-4 py-2 rounded")
            .props("role=alert") as self.row
        ):
            ui.icon("cloud_off")
            self.label = ui.label("").mark("backend-banner")
            ui.space()
            ui.button(icon="close", on_click=self.hide).props("flat dense round")
        self.row.visible = False

    def show(self, message: str) -> None:
        self.label.text = f"Backend unavailable: {message}. Try again in a moment."
        self.row.visible = True

    def hide(self) -> None:
        self.row.visible = False


def forwarded_for(request: Any) -> str:
    """The ``X-Forwarded-For`` to send for the page request ``request`` ("" when unknown)."""
    client = getattr(request, "client", None)
    peer = getattr(client, "host", "") or ""
    headers = getattr(request, "headers", None)
    received = headers.getlist("x-forwarded-for") if headers is not None else []
    chain = [hop.strip() for value in received for hop in value.split(",") if hop.strip()]
    return ", ".join([*chain, peer]) if peer else ""


@dataclass
class Session:
    """The dashboard as one browser tab sees it: configuration, banner, login state."""

    config: UiConfig
    banner: Banner
    on_auth_change: Callable[[], object] = field(default=lambda: None)
    forwarded_for: str = ""
    """What to send as ``X-Forwarded-For`` (see the module docstring)."""

    # -- login state (per-user storage) -------------------------------------------------------

    @property
    def token(self) -> str | None:
        value = app.storage.user.get(TOKEN_KEY)
        return value if isinstance(value, str) and value else None

    @property
    def email(self) -> str:
        return str(app.storage.user.get(EMAIL_KEY, ""))

    def remember(self, token: str, email: str) -> None:
        app.storage.user[TOKEN_KEY] = token
        app.storage.user[EMAIL_KEY] = email
        self.on_auth_change()

    def forget(self) -> None:
        app.storage.user.pop(TOKEN_KEY, None)
        app.storage.user.pop(EMAIL_KEY, None)
        self.on_auth_change()

    def require_login(self) -> bool:
        """True when logged in; else send the browser to the login page."""
        if self.token is None:
            ui.navigate.to("/login")
            return False
        return True

    # -- talking to the gateway ---------------------------------------------------------------

    def gateway(self, *, anonymous: bool = False) -> GatewayClient:
        """A client for one request or stream; close it (``async with``) when done."""
        return GatewayClient(
            self.config.api_url,
            token=None if anonymous else self.token,
            transport=self.config.transport,
            headers={"X-Forwarded-For": self.forwarded_for} if self.forwarded_for else None,
        )

    async def fetch(
        self,
        op: Callable[[GatewayClient], Awaitable[T]],
        *,
        anonymous: bool = False,
        inputs: Mapping[str, Field] | None = None,
    ) -> T | None:
        """Run ``op`` against the gateway; None when it failed (the user has been told).

        Args:
            op: What to do with the client.
            anonymous: Send no token (signup, login).
            inputs: Field name → input element: a 422 marks each named field on its input.
        """
        for element in (inputs or {}).values():
            element.error = None
        try:
            async with self.gateway(anonymous=anonymous) as gw:
                result = await op(gw)
        except ApiError as exc:
            self.report(exc, inputs=inputs, anonymous=anonymous)
            return None
        # A success does not hide the banner: most routes never reach the backend, so their
        # success says nothing about whether it is back (moving to another page clears it).
        return result

    async def act(
        self,
        op: Callable[[GatewayClient], Awaitable[object]],
        *,
        success: str = "",
        anonymous: bool = False,
        inputs: Mapping[str, Field] | None = None,
    ) -> bool:
        """Run a change against the gateway; True when it was done (``success`` is shown)."""

        async def done(gw: GatewayClient) -> bool:
            await op(gw)
            return True

        ok = await self.fetch(done, anonymous=anonymous, inputs=inputs) is True
        if ok and success:
            ui.notify(success, type="positive")
        return ok

    def report(
        self,
        exc: ApiError,
        *,
        inputs: Mapping[str, Field] | None = None,
        anonymous: bool = False,
    ) -> None:
        """Show an API error where the user will see it (the one mapping of the dashboard)."""
        if isinstance(exc, BackendUnavailable):
            self.banner.show(exc.message)
            return
        if isinstance(exc, Unauthenticated) and not anonymous:
            self.forget()
            ui.notify("Your session has ended; please log in again.", type="warning")
            ui.navigate.to("/login")
            return
        if isinstance(exc, InvalidInput) and inputs:
            marked = False
            for name, why in exc.fields.items():
                if name in inputs:
                    inputs[name].error = why
                    marked = True
            if marked:
                return
        ui.notify(exc.message, type="negative", multi_line=True)
