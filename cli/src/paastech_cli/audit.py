"""``paastech audit``: what was done to your account and projects, when and from where."""

from __future__ import annotations

from paastech_cli.output import print_json, table
from paastech_cli.runtime import Gateway, JsonFlag


async def audit(*, json: JsonFlag = False, gateway: Gateway = Gateway()) -> None:
    """Show your account's audit log: who did what to which target, when and from where.

    For example:

        $ paastech audit
        $ paastech audit --json | jq '.[] | select(.action == "project.delete")'
    """
    async with gateway.client() as gw:
        events = await gw.audit()
    if json:
        print_json(events)
        return
    rows = ((e.created_at, e.actor, e.action, e.target, e.ip) for e in events)
    table(("WHEN", "WHO", "ACTION", "TARGET", "FROM"), rows, empty="No events.")
