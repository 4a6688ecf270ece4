"""``paastech releases`` and ``paastech rollback vN``."""

from __future__ import annotations

import re

from paastech_cli.exits import UsageError
from paastech_cli.output import print_json, say, spinner, table
from paastech_cli.runtime import JsonFlag, Target

_VERSION = re.compile(r"^[vV]?(?P<n>[1-9][0-9]*)$")


def parse_version(text: str) -> int:
    """``"v3"`` or ``"3"`` → 3."""
    match = _VERSION.match(text.strip())
    if not match:
        raise UsageError(f"expected a release like v3, got {text!r}")
    return int(match["n"])


async def releases(*, json: JsonFlag = False, target: Target = Target()) -> None:
    """List the project's releases, newest first, with their status and its reason.

    A release is pending, deploying, live or failed; a failed one says why (a crash at
    start, a failed health check, an out-of-memory kill, an image that cannot be pulled).

    For example:

        $ paastech releases
        $ paastech releases -p hello --json
    """
    name = target.name()
    async with target.client() as gw:
        found = await gw.list_releases(name)
    found.sort(key=lambda r: r.version, reverse=True)
    if json:
        print_json(found)
        return
    rows = ((f"v{r.version}", r.status, r.reason, r.description, r.created_at) for r in found)
    table(
        ("VERSION", "STATUS", "REASON", "DESCRIPTION", "CREATED"),
        rows,
        empty=f"No releases of {name} yet: deploy with `git push paastech main`.",
    )


async def rollback(version: str, /, *, json: JsonFlag = False, target: Target = Target()) -> None:
    """Run an older release again, as a new release with its image and config.

    For example:

        $ paastech rollback v1

    Parameters
    ----------
    version
        The release to return to: v1, v2, … (or just the number).
    """
    number = parse_version(version)
    name = target.name()
    async with target.client() as gw:
        with spinner(f"Rolling {name} back to v{number}…"):
            release = await gw.rollback(name, number)
    if json:
        print_json(release)
    elif release is not None:
        say(f"Rolled back [bold]{name}[/] to v{number} (now release v{release.version})")
    else:
        say(f"Rolled back [bold]{name}[/] to v{number}")
