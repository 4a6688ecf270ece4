"""``paastech audit``: what was done to your account and projects, when and from where."""

from __future__ import annotations

from typing import Annotated

from cyclopts import Parameter

from paastech_cli.output import print_json, table
from paastech_cli.runtime import Gateway, JsonFlag


async def audit(
    *,
    limit: Annotated[int, Parameter(name=["--limit", "-n"])] = 100,
    before: Annotated[int | None, Parameter(show_default=False)] = None,
    json: JsonFlag = False,
    gateway: Gateway = Gateway(),
) -> None:
    """Show your account's audit log: who did what to which target, when and from where.

    For example:

        $ paastech audit
        $ paastech audit --json | jq '.[] | select(.action == "project.delete")'

    Parameters
    ----------
    limit
        How many events, newest first (at most 1000).
    before
        Only events older than this event ID (to page back).
    """
    async with gateway.client() as gw:
        events = await gw.audit(limit=limit, before=before)
    if json:
        print_json(events)
        return
    rows = ((e.id, e.created_at, e.actor, e.action, e.target, e.ip) for e in events)
    table(("ID", "WHEN", "WHO", "ACTION", "TARGET", "FROM"), rows, empty="No events.")
