"""Pure parsing of the command an SSH client asks the forge to run.

There is no shell: the command string is matched against the two forms git sends and
nothing else. ``git push`` over SSH runs ``git-receive-pack '<path>'`` and ``git clone`` /
``git fetch`` run ``git-upload-pack '<path>'``; the path is ``name.git`` (scp-like remotes,
``git@host:name.git``), ``/name.git`` (``ssh://`` URLs) or a bare ``name``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from paastech.errors import InvalidInput

PROJECT_NAME = re.compile(r"[a-z][a-z0-9-]{1,38}[a-z0-9]")
"""A project name is a DNS label (it becomes ``<name>.<apps-domain>``), 3 to 40 characters."""

_COMMAND = re.compile(
    r"(?P<service>git-receive-pack|git-upload-pack)"
    r" (?P<quote>['\"]?)/?(?P<name>[a-z][a-z0-9-]{1,38}[a-z0-9])(?:\.git)?(?P=quote)"
)

USAGE = "only git-receive-pack and git-upload-pack '<project>.git' are accepted"


class Service(StrEnum):
    """The two git services the forge offers."""

    RECEIVE_PACK = "git-receive-pack"
    UPLOAD_PACK = "git-upload-pack"

    @property
    def git_subcommand(self) -> str:
        """The ``git`` subcommand that implements the service (``receive-pack``)."""
        return self.value.removeprefix("git-")


@dataclass(frozen=True)
class GitCommand:
    """A validated git command: which service, for which project name."""

    service: Service
    project: str


def parse_command(command: str) -> GitCommand:
    """Parse the command of an SSH ``exec`` request.

    Args:
        command: The command string exactly as the client sent it.

    Returns:
        The service and project name.

    Raises:
        InvalidInput: Anything that is not exactly one of the accepted forms; the message is
            safe to show to the client (it never echoes the input back).
    """
    match = _COMMAND.fullmatch(command)
    if match is None:
        raise InvalidInput(USAGE, fields={"command": "not a git command the forge accepts"})
    return GitCommand(service=Service(match["service"]), project=match["name"])


def is_project_name(name: str) -> bool:
    """True when ``name`` is a valid project name."""
    return PROJECT_NAME.fullmatch(name) is not None
