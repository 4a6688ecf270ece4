"""``paastech signup | login | logout | password | whoami``: accounts and the saved session."""

from __future__ import annotations

from typing import Annotated

from cyclopts import Parameter

from paastech_cli import errors
from paastech_cli.credentials import Credentials
from paastech_cli.exits import LoginFailed, UsageError
from paastech_cli.output import note, print_json, say, spinner
from paastech_cli.runtime import Gateway, JsonFlag, current

Email = Annotated[str | None, Parameter(name="--email", show_default=False)]
PasswordStdin = Annotated[bool, Parameter(name="--password-stdin", negative="", show_default=False)]


def _email(email: str | None) -> str:
    email = (email or current().ask("Email: ")).strip()
    if not email:
        raise UsageError("an email is required")
    return email


def _password(from_stdin: bool, *, confirm: bool = False) -> str:
    rt = current()
    if from_stdin:
        password = rt.stdin.readline().rstrip("\r\n")
    else:
        password = rt.prompt_secret("Password: ")
        if confirm and rt.prompt_secret("Password (again): ") != password:
            raise UsageError("the passwords do not match")
    if not password:
        raise UsageError("a password is required")
    return password


async def _login(gateway: Gateway, email: str, password: str) -> None:
    url = gateway.url()
    async with gateway.client(auth=False) as gw:
        with spinner("Logging in…"):
            try:
                session = await gw.login(email, password)
            except errors.Unauthenticated as exc:
                raise LoginFailed(exc.message) from exc
    expires = session.expires_at.isoformat() if session.expires_at else ""
    current().credentials.put(
        url, Credentials(token=session.token, email=email, expires_at=expires)
    )
    say(f"Logged in to {url} as [bold]{email}[/]")
    if current().environ.get("PAASTECH_TOKEN"):
        note("[yellow]Note:[/] PAASTECH_TOKEN is set and is used instead of this login.")


async def signup(
    *, email: Email = None, password_stdin: PasswordStdin = False, gateway: Gateway = Gateway()
) -> None:
    """Create an account, then log in with it.

    The password (at least 10 characters) is asked twice without echo, or read as one line
    from standard input with --password-stdin.

    For example:

        $ paastech signup --email ada@example.com

    Parameters
    ----------
    email
        Account email (asked when not given).
    password_stdin
        Read the password from standard input instead of prompting.
    """
    address = _email(email)
    password = _password(password_stdin, confirm=True)
    async with gateway.client(auth=False) as gw:
        with spinner("Creating account…"):
            account = await gw.signup(address, password)
    say(f"Created account [bold]{account.email}[/]")
    await _login(gateway, account.email, password)


async def login(
    *, email: Email = None, password_stdin: PasswordStdin = False, gateway: Gateway = Gateway()
) -> None:
    """Log in and save the session for this gateway (in credentials.toml, mode 0600).

    For example:

        $ paastech login --email ada@example.com
        $ echo "$PASSWORD" | paastech login --email ada@example.com --password-stdin

    Parameters
    ----------
    email
        Account email (asked when not given).
    password_stdin
        Read the password from standard input instead of prompting.
    """
    address = _email(email)
    await _login(gateway, address, _password(password_stdin))


async def logout(*, gateway: Gateway = Gateway()) -> None:
    """Revoke the saved session token and forget it (PAASTECH_TOKEN is left alone).

    For example:

        $ paastech logout
    """
    rt = current()
    url = gateway.url()
    saved = rt.credentials.get(url)
    if saved is None:
        # PAASTECH_TOKEN is an API token for scripts: revoking it is `tokens revoke`'s job.
        note(f"Not logged in to {url}.")
        return
    try:
        async with gateway.client(token=saved.token) as gw:
            await gw.logout()
    except errors.Unauthenticated:
        pass  # already expired or revoked: forgetting it is all that is left to do
    except errors.ApiError as exc:
        note(f"[yellow]Warning:[/] could not revoke the token on the gateway: {exc.message}")
    if rt.credentials.remove(url):
        say(f"Logged out of {url}")


async def password(*, password_stdin: PasswordStdin = False, gateway: Gateway = Gateway()) -> None:
    """Change your password; every other login session is signed out.

    Asks for the current password, then the new one twice (at least 10 characters). With
    --password-stdin, reads two lines: the current password, then the new one. API tokens
    stay valid (`paastech tokens revoke-all` ends them too).

    For example:

        $ paastech password

    Parameters
    ----------
    password_stdin
        Read the current and the new password from standard input, one per line.
    """
    rt = current()
    if password_stdin:
        old = rt.stdin.readline().rstrip("\r\n")
        new = rt.stdin.readline().rstrip("\r\n")
    else:
        old = rt.prompt_secret("Current password: ")
        new = rt.prompt_secret("New password: ")
        if rt.prompt_secret("New password (again): ") != new:
            raise UsageError("the passwords do not match")
    if not old or not new:
        raise UsageError("the current and the new password are required")
    async with gateway.client() as gw:
        with spinner("Changing password…"):
            revoked = await gw.change_password(old, new)
    say(f"Password changed; signed out {revoked} other session{'s' if revoked != 1 else ''}")


async def whoami(*, json: JsonFlag = False, gateway: Gateway = Gateway()) -> None:
    """Show the account the current token belongs to.

    For example:

        $ paastech whoami
        $ paastech whoami --json
    """
    async with gateway.client() as gw:
        me = await gw.me()
    if json:
        print_json(me)
    else:
        say(me.email)
