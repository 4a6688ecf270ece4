"""``paastech tokens create | list | revoke | revoke-all``: API tokens for scripts and CI."""

from __future__ import annotations

from typing import Annotated

from cyclopts import App, Parameter

from paastech_cli.output import note, print_json, say, table
from paastech_cli.runtime import Gateway, JsonFlag, current

app = App(name="tokens", help="Create, list and revoke API tokens (for PAASTECH_TOKEN in CI).")


@app.command
async def create(
    name: str,
    /,
    *,
    expires_in_days: Annotated[int | None, Parameter(show_default=False)] = None,
    json: JsonFlag = False,
    gateway: Gateway = Gateway(),
) -> None:
    """Create an API token; it is shown this once only.

    For example:

        $ paastech tokens create ci --expires-in-days 90
        $ export PAASTECH_TOKEN=…   # then any command works without login

    Parameters
    ----------
    name
        A label for the token.
    expires_in_days
        Lifetime in days [default: the gateway's].
    """
    async with gateway.client() as gw:
        created = await gw.create_token(name, expires_in_days)
    if json:
        print_json(created)
        return
    note(
        f"Created token [bold]{created.name}[/] (id {created.id})."
        " Copy it now: it is not shown again."
    )
    say(created.token)


@app.command(name="list")
async def list_(*, json: JsonFlag = False, gateway: Gateway = Gateway()) -> None:
    """List your live tokens, logins (session) and API tokens (api); never their secrets.

    For example:

        $ paastech tokens list --json
    """
    async with gateway.client() as gw:
        tokens = await gw.list_tokens()
    if json:
        print_json(tokens)
        return
    rows = ((t.id, t.name, t.kind, t.created_at, t.expires_at, t.last_used_at) for t in tokens)
    table(("ID", "NAME", "KIND", "CREATED", "EXPIRES", "LAST USED"), rows, empty="No tokens.")


@app.command
async def revoke(token_id: str, /, *, gateway: Gateway = Gateway()) -> None:
    """Revoke an API token at once.

    For example:

        $ paastech tokens revoke 7d1c…

    Parameters
    ----------
    token_id
        The token's ID, as `paastech tokens list` shows it.
    """
    async with gateway.client() as gw:
        await gw.revoke_token(token_id)
    say(f"Revoked token {token_id}")


@app.command(name="revoke-all")
async def revoke_all(*, gateway: Gateway = Gateway()) -> None:
    """Revoke every token of your account at once, logins included: sign out everywhere.

    The saved login of this gateway is forgotten too; log in again afterwards.

    For example:

        $ paastech tokens revoke-all
    """
    url = gateway.url()
    async with gateway.client() as gw:
        revoked = await gw.revoke_all_tokens()
    current().credentials.remove(url)
    say(f"Revoked {revoked} token{'s' if revoked != 1 else ''}; log in again to continue")
