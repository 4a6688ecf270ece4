"""SSH public keys that may `git push`: add, list, remove."""

from __future__ import annotations

from nicegui import ui

from paastech_ui.session import Session
from paastech_ui.widgets import confirm, heading, when


async def page(session: Session) -> None:
    """The Client's keys and the form to add one (ed25519, ecdsa or rsa ≥ 2048)."""
    if not session.require_login():
        return
    heading("SSH keys", "Keys that may push to your projects' git remotes.")

    @ui.refreshable
    async def listing() -> None:
        found = await session.fetch(lambda gw: gw.list_keys())
        if found is None:
            return
        if not found:
            ui.label("No keys yet: add one to git push.").classes("text-gray-600")
            return
        with ui.column().classes("w-full gap-1").mark("key-list"):
            for key in found:
                with ui.row().classes("w-full items-center gap-4 border-b py-1"):
                    ui.label(key.name).classes("font-semibold w-48")
                    ui.label(key.key_type).classes("text-gray-600 w-28")
                    ui.label(key.fingerprint).classes("font-mono grow break-all")
                    ui.label(when(key.created_at)).classes("text-gray-600")

                    async def remove(key_id: str = key.id, label: str = key.name) -> None:
                        if await session.act(
                            lambda gw: gw.remove_key(key_id), success=f"Key {label} removed"
                        ):
                            await listing.refresh()

                    ask = confirm(
                        f"Remove key {key.name}?", "It can no longer push.", "Remove", remove
                    )
                    ui.button(icon="delete", on_click=ask).props(
                        "flat dense round color=negative"
                    ).mark(f"key-remove-{key.name}")

    await listing()
    with ui.card().classes("w-full"):
        ui.label("Add a key").classes("font-semibold")
        name = ui.input("Name", placeholder="laptop").classes("w-64").mark("key-name")
        public_key = ui.textarea(
            "Public key", placeholder="ssh-ed25519 AAAA… you@host (~/.ssh/id_ed25519.pub)"
        ).classes("w-full font-mono")
        public_key.mark("key-public")

        async def add() -> None:
            label = name.value.strip() or "key"
            if await session.act(
                lambda gw: gw.add_key(label, public_key.value.strip()),
                success=f"Key {label} added",
                inputs={"name": name, "public_key": public_key},
            ):
                name.value = ""
                public_key.value = ""
                await listing.refresh()

        ui.button("Add key", on_click=add).mark("key-add")
