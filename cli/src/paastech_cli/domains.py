"""``paastech domains add | verify | remove | list``: custom hostnames routed to a project."""

from __future__ import annotations

from cyclopts import App

from paastech_cli.output import print_json, say, spinner, table
from paastech_cli.runtime import JsonFlag, Target

app = App(name="domains", help="Route custom hostnames to a project.")


@app.command
async def add(hostname: str, /, *, json: JsonFlag = False, target: Target = Target()) -> None:
    """Claim a custom hostname; it is routed once proved with a DNS TXT record (see verify).

    For example:

        $ paastech domains add www.example.com

    Parameters
    ----------
    hostname
        A fully qualified hostname, not used by any other account.
    """
    name = target.name()
    async with target.client() as gw:
        with spinner(f"Adding {hostname}…"):
            domain = await gw.add_domain(name, hostname)
    if json:
        print_json(domain)
        return
    say(f"Added {domain.hostname} to [bold]{name}[/]")
    if not domain.verified and domain.challenge_record:
        say(
            f"To prove it is yours, publish a TXT record [bold]{domain.challenge_record}[/]"
            f" holding {domain.challenge_value}, then run"
            f" `paastech domains verify {domain.hostname}`"
        )


@app.command
async def verify(hostname: str, /, *, json: JsonFlag = False, target: Target = Target()) -> None:
    """Check the hostname's DNS TXT challenge; once it holds the token the name is routed.

    For example:

        $ paastech domains verify www.example.com

    Parameters
    ----------
    hostname
        A hostname added with `paastech domains add`.
    """
    name = target.name()
    async with target.client() as gw:
        with spinner(f"Checking {hostname}…"):
            domain = await gw.verify_domain(name, hostname)
    if json:
        print_json(domain)
    else:
        say(f"Verified {domain.hostname}: it is routed to [bold]{name}[/]")


@app.command
async def remove(hostname: str, /, *, target: Target = Target()) -> None:
    """Stop routing a custom hostname to the project.

    For example:

        $ paastech domains remove www.example.com

    Parameters
    ----------
    hostname
        The hostname to remove.
    """
    name = target.name()
    async with target.client() as gw:
        await gw.remove_domain(name, hostname)
    say(f"Removed {hostname} from [bold]{name}[/]")


@app.command(name="list")
async def list_(*, json: JsonFlag = False, target: Target = Target()) -> None:
    """List the project's custom hostnames.

    For example:

        $ paastech domains list --json
    """
    name = target.name()
    async with target.client() as gw:
        domains = await gw.list_domains(name)
    if json:
        print_json(domains)
        return
    rows = ((d.hostname, "yes" if d.verified else "no", d.created_at) for d in domains)
    table(("HOSTNAME", "VERIFIED", "ADDED"), rows, empty="No domains.")
