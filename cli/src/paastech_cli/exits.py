"""Exit codes, and the CLI's own errors (those that never reach the gateway).

Every failure ends as one line on stderr and one of these codes, so scripts can branch on
the class of failure without parsing text.
"""

from __future__ import annotations

import enum

from paastech_cli import errors


class Exit(enum.IntEnum):
    """The process exit code for each class of failure."""

    OK = 0
    OTHER = 1
    USAGE = 2
    AUTH = 3
    NOT_FOUND = 4
    INVALID = 5
    UNAVAILABLE = 6
    INTERRUPTED = 130


HELP = """\
Exit codes:

- 0: success
- 1: any other failure
- 2: usage (unknown command or option, bad argument, no project given)
- 3: authentication (not logged in; token missing, bad or expired)
- 4: not found (no such project, key, token or domain, or not yours)
- 5: invalid input (the gateway refused a value; each field is named)
- 6: backend unavailable (gateway down or unreachable, time-out, HTTP 502/503/504)"""


class CliError(Exception):
    """A failure found by the CLI itself; ``exit_code`` says which class it is."""

    exit_code = Exit.OTHER

    @property
    def message(self) -> str:
        return str(self)


class UsageError(CliError):
    exit_code = Exit.USAGE


class NotLoggedIn(CliError):
    exit_code = Exit.AUTH


class LoginFailed(CliError):
    """Wrong email or password (no "run paastech login" hint: that is what failed)."""

    exit_code = Exit.AUTH


class Aborted(CliError):
    """The user declined a confirmation."""


def exit_code(exc: BaseException) -> Exit:
    """The exit code for an error raised by a command."""
    if isinstance(exc, CliError):
        return exc.exit_code
    match exc:
        case errors.Unauthenticated() | errors.PermissionDenied():
            return Exit.AUTH
        case errors.NotFound():
            return Exit.NOT_FOUND
        case (
            errors.InvalidInput()
            | errors.BadRequest()
            | errors.Conflict()
            | errors.PayloadTooLarge()
        ):
            return Exit.INVALID
        case errors.BackendUnavailable():
            return Exit.UNAVAILABLE
    return Exit.OTHER
