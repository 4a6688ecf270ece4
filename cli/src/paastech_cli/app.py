"""The ``paastech`` command: the root app, its commands, and the one place errors are rendered."""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Sequence

from cyclopts import App, CycloptsError, Group

from paastech_cli import (
    __version__,
    audit,
    auth,
    browse,
    builds,
    domains,
    env,
    errors,
    instances,
    keys,
    logs,
    projects,
    releases,
    status,
    tokens,
)
from paastech_cli.argv import hoist_globals
from paastech_cli.credentials import CredentialsError
from paastech_cli.exits import HELP, CliError, Exit, exit_code
from paastech_cli.runtime import Runtime, installed

ACCOUNT = Group("Account", sort_key=1)
PROJECTS = Group("Projects", sort_key=2)
DEPLOYS = Group("Deploys", sort_key=3)
RUNNING = Group("Running app", sort_key=4)

app = App(
    name="paastech",
    version=__version__,
    suppress_keyboard_interrupt=False,  # main() decides: 0 for `logs -f`, else 130
    help_format="markdown",
    help=f"""\
PaaSTech from your terminal: create a project, `git push paastech main`, and manage the app.

Start with:

    $ paastech signup --email you@example.com
    $ paastech keys add
    $ paastech projects create hello      # inside your app's git repository
    $ git push paastech main

Environment: PAASTECH_API_URL (gateway, default http://127.0.0.1:8000), PAASTECH_TOKEN
(a token from `paastech tokens create`, used instead of the saved login), XDG_CONFIG_HOME
(sessions live in $XDG_CONFIG_HOME/paastech/credentials.toml, default ~/.config).

The project comes from `--project/-p` (anywhere on the line), else from the `paastech` git
remote of the current directory. Read commands take `--json`.

{HELP}
""",
)

for func, group in (
    (auth.signup, ACCOUNT),
    (auth.login, ACCOUNT),
    (auth.logout, ACCOUNT),
    (auth.password, ACCOUNT),
    (auth.whoami, ACCOUNT),
    (audit.audit, ACCOUNT),
    (releases.releases, DEPLOYS),
    (releases.rollback, DEPLOYS),
    (builds.builds, DEPLOYS),
    (logs.logs, RUNNING),
    (instances.scale, RUNNING),
    (instances.ps, RUNNING),
    (status.status, RUNNING),
):
    app.command(func, group=group)
app.command(browse.open_, name="open", group=RUNNING)
for sub, group in (
    (keys.app, ACCOUNT),
    (tokens.app, ACCOUNT),
    (projects.app, PROJECTS),
    (env.app, PROJECTS),
    (domains.app, PROJECTS),
):
    sub.group = group  # a sub-App carries its own help panel
    app.command(sub)


def _hint(exc: BaseException) -> str:
    match exc:
        case errors.Unauthenticated():
            return " (run `paastech login`, or set PAASTECH_TOKEN)"
        case errors.GatewayUnreachable():
            return " (is the gateway running? set --api-url or PAASTECH_API_URL)"
    return ""


def _one_line(text: str) -> str:
    return " ".join(text.split())


def main(argv: Sequence[str] | None = None, runtime: Runtime | None = None) -> int:
    """Run one ``paastech`` invocation and return its exit code (never raises, no traceback).

    Args:
        argv: The arguments after the program name [default: ``sys.argv[1:]``].
        runtime: The outside world to run against [default: the real process's].
    """
    rt = runtime or Runtime()
    tokens_ = hoist_globals(sys.argv[1:] if argv is None else argv)
    code: int = Exit.OK
    message = ""
    with installed(rt):
        try:
            app(
                tokens_,
                console=rt.console,
                error_console=rt.err_console,
                exit_on_error=False,
                print_error=False,
                result_action="return_value",
            )
        except CycloptsError as exc:
            code, message = Exit.USAGE, f"{exc} (see --help)"
        except (CliError, errors.ApiError) as exc:
            code, message = exit_code(exc), exc.message + _hint(exc)
        except CredentialsError as exc:
            code, message = Exit.OTHER, str(exc)
        except KeyboardInterrupt:
            code = rt.interrupt_exit
        except BrokenPipeError:
            # `paastech logs | head`: the reader left; nothing more to say to anyone.
            code = Exit.OK
        except Exception as exc:  # the edge: a bug still ends as one line, not a traceback
            if rt.environ.get("PAASTECH_DEBUG"):
                traceback.print_exc(file=rt.stderr)
            code = Exit.OTHER
            message = f"internal error: {type(exc).__name__}: {exc} (PAASTECH_DEBUG=1 shows more)"
    if message:
        rt.stderr.write(f"Error: {_one_line(message)}\n")
        rt.stderr.flush()
    return int(code)


def run() -> None:
    """Console-script entry point."""
    code = main()
    if code == Exit.OK:
        # Flush now so a closed pipe surfaces here, where it can be silenced.
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    sys.exit(code)
