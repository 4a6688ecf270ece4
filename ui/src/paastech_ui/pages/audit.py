"""The Client's own audit trail: who did what to which target, when and from where."""

from __future__ import annotations

from nicegui import ui
from paastech_cli.schemas import AuditEvent

from paastech_ui.session import Session
from paastech_ui.widgets import heading, table, when

PAGE = 50


async def page(session: Session) -> None:
    """Newest events first, fifty at a time, with a button for older ones."""
    if not session.require_login():
        return
    heading("Audit", "Every change made with your account.")
    columns = [
        ("when", "When"),
        ("actor", "Who"),
        ("action", "What"),
        ("target", "Target"),
        ("ip", "From"),
    ]
    events = table(columns, [], key="key", marker="audit")
    older = ui.button("Older events", icon="expand_more").props("flat").mark("audit-older")
    seen: list[AuditEvent] = []

    async def load() -> None:
        last = seen[-1].id if seen else None
        before = last if isinstance(last, int) else None
        found = await session.fetch(lambda gw: gw.audit(limit=PAGE, before=before))
        if found is None:
            return
        seen.extend(found)
        events.rows = [_row(n, e) for n, e in enumerate(seen)]
        older.visible = len(found) == PAGE and isinstance(found[-1].id, int)

    older.on_click(load)
    await load()


def _row(n: int, event: AuditEvent) -> dict[str, str]:
    return {
        "key": str(event.id if event.id is not None else n),
        "when": when(event.created_at),
        "actor": event.actor,
        "action": event.action,
        "target": event.target,
        "ip": event.ip,
    }
