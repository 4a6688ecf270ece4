"""``paastech open``: the project's URL in a browser."""

from __future__ import annotations

from paastech_cli.exits import CliError
from paastech_cli.output import say
from paastech_cli.runtime import Target, current


async def open_(*, target: Target = Target()) -> None:
    """Open the app's URL in your web browser (and print it).

    For example:

        $ paastech open
        $ paastech open -p hello
    """
    name = target.name()
    async with target.client() as gw:
        project = await gw.get_project(name)
    if not project.url:
        raise CliError(f"{name} has no URL yet")
    say(project.url)
    current().open_url(project.url)
