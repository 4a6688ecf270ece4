"""The dashboard as a NiceGUI root function: the frame (header, banner) and its sub pages.

``create_root(config)`` is what ``ui.run`` serves and what the tests' simulated ``User``
opens; every page is a function of the per-tab :class:`~paastech_ui.session.Session`.
"""

from __future__ import annotations

from collections.abc import Callable

from nicegui import ui

from paastech_ui import widgets
from paastech_ui.config import UiConfig
from paastech_ui.pages import account, audit, auth, keys, project, projects, tokens
from paastech_ui.session import Banner, Session, forwarded_for

ROUTES: dict[str, Callable[..., object]] = {
    "/": projects.index,
    "/signup": auth.signup,
    "/login": auth.login,
    "/new": projects.create,
    "/projects/{name}": project.page,
    "/keys": keys.page,
    "/tokens": tokens.page,
    "/audit": audit.page,
    "/account": account.page,
}
"""Path → page builder; builders take ``session`` (and path parameters) as keywords."""


def create_root(config: UiConfig) -> Callable[[], None]:
    """The root page of the dashboard for ``config`` (one call per browser tab)."""

    def root() -> None:
        ui.page_title("PaaSTech")
        ui.colors(primary="#4f46e5")
        header = ui.header().classes("items-center bg-indigo-700 text-white px-4 py-2 gap-4")
        with header:
            ui.link("PaaSTech", "/").classes("text-xl font-bold text-white no-underline")
        with ui.column().classes("w-full max-w-6xl mx-auto p-4 gap-4"):
            banner = Banner()
            request = getattr(ui.context.client, "request", None)
            session = Session(config=config, banner=banner, forwarded_for=forwarded_for(request))

            @ui.refreshable
            def nav() -> None:
                widgets.nav(session)

            with header:
                nav()
            session.on_auth_change = nav.refresh
            # A new page asks the backend afresh: an old outage notice would mislead.
            ui.context.client.sub_pages_router.on_path_changed(lambda _path: banner.hide())
            ui.sub_pages(ROUTES, data={"session": session}).classes("w-full")

    return root
