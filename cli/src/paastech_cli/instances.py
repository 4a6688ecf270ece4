"""``paastech scale N`` and ``paastech ps``: the running instances of a project."""

from __future__ import annotations

from typing import Annotated

from cyclopts import Parameter

from paastech_cli.output import print_json, say, spinner, table
from paastech_cli.runtime import JsonFlag, Target


async def scale(
    instances: Annotated[int, Parameter(validator=lambda _t, v: _non_negative(v))],
    /,
    *,
    target: Target = Target(),
) -> None:
    """Set the number of running instances (0 stops the app).

    For example:

        $ paastech scale 2
        $ paastech ps

    Parameters
    ----------
    instances
        How many instances to run.
    """
    name = target.name()
    async with target.client() as gw:
        with spinner(f"Scaling {name} to {instances}…"):
            scaled = await gw.scale(name, instances)
    plural = "s" if scaled.instances != 1 else ""
    if scaled.applied:
        say(f"Scaling [bold]{name}[/] to {scaled.instances} instance{plural}")
    else:
        say(f"[bold]{name}[/] will run {scaled.instances} instance{plural} once it is deployed")


def _non_negative(value: int) -> None:
    if value < 0:
        raise ValueError("must be 0 or more")


async def ps(*, json: JsonFlag = False, target: Target = Target()) -> None:
    """List the project's running instances.

    For example:

        $ paastech ps
        $ paastech ps --json | jq length
    """
    name = target.name()
    async with target.client() as gw:
        found = await gw.instances(name)
    if json:
        print_json(found)
        return
    rows = (
        (
            i.id,
            i.status,
            f"v{i.release}" if i.release is not None else None,
            i.address,
            i.started_at,
        )
        for i in found
    )
    table(
        ("ID", "STATUS", "RELEASE", "ADDRESS", "STARTED"),
        rows,
        empty=f"No instances of {name} are running.",
    )
