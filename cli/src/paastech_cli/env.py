"""``paastech env set | unset | list``: configuration variables of a project."""

from __future__ import annotations

import re
from typing import Annotated

from cyclopts import App, Parameter

from paastech_cli.exits import UsageError
from paastech_cli.output import print_json, say, spinner, table
from paastech_cli.runtime import JsonFlag, Target
from paastech_cli.schemas import Env

app = App(name="env", help="Set, unset and list environment variables (each change redeploys).")

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _check_key(key: str) -> str:
    if not _KEY.match(key):
        raise UsageError(f"invalid variable name {key!r}: use letters, digits and _")
    return key


def _released(env: Env) -> str:
    return f" (release v{env.release})" if env.release is not None else ""


def parse_assignments(pairs: list[str]) -> dict[str, str]:
    """``["K=V", …]`` → ``{"K": "V"}``; the value may itself contain ``=``."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise UsageError(f"expected KEY=VALUE, got {pair!r}")
        out[_check_key(key)] = value
    return out


@app.command(name="set")
async def set_(*pairs: str, target: Target = Target()) -> None:
    """Set one or more variables; a new release is made and deployed.

    For example:

        $ paastech env set GREETING=hello DEBUG=0
        $ paastech env set -p hello DATABASE_URL='postgres://…'

    Parameters
    ----------
    pairs
        KEY=VALUE assignments.
    """
    if not pairs:
        raise UsageError("give at least one KEY=VALUE")
    changes = parse_assignments(list(pairs))
    name = target.name()
    async with target.client() as gw:
        with spinner(f"Setting {', '.join(changes)} and restarting {name}…"):
            env = await gw.update_env(name, dict(changes))
    say(f"Set {', '.join(changes)} on [bold]{name}[/]{_released(env)}")


@app.command
async def unset(*keys: str, target: Target = Target()) -> None:
    """Remove one or more variables; a new release is made and deployed.

    For example:

        $ paastech env unset DEBUG

    Parameters
    ----------
    keys
        Variable names.
    """
    if not keys:
        raise UsageError("give at least one variable name")
    name = target.name()
    changes: dict[str, str | None] = {_check_key(key): None for key in keys}
    async with target.client() as gw:
        with spinner(f"Unsetting {', '.join(changes)} and restarting {name}…"):
            env = await gw.update_env(name, changes)
    say(f"Unset {', '.join(changes)} on [bold]{name}[/]{_released(env)}")


@app.command(name="list")
async def list_(
    *,
    reveal: Annotated[bool, Parameter(negative="", show_default=False)] = False,
    json: JsonFlag = False,
    target: Target = Target(),
) -> None:
    """List variables; values are masked unless --reveal.

    For example:

        $ paastech env list
        $ paastech env list --reveal --json

    Parameters
    ----------
    reveal
        Show the values instead of masking them.
    """
    name = target.name()
    async with target.client() as gw:
        env = await gw.get_env(name, reveal=reveal)
    if json:
        print_json(env.env)
        return
    table(("KEY", "VALUE"), sorted(env.env.items()), empty=f"No variables set on {name}.")
