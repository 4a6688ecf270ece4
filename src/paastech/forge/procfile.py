"""Heroku's Procfile format: ``<process type>: <command>`` lines. Pure.

What Heroku accepts, and so what this accepts: blank lines, whole-line ``#`` comments,
``# comments`` after a command (a ``#`` that starts a word outside quotes, as the shell
reads it), any process type made of letters, digits, ``_`` and ``-``. ``web`` is the one
the router sends traffic to; the others (``worker``, ``release``, ``clock`` …) are kept
with the build's plan for the release that follows.
"""

from __future__ import annotations

import re

from paastech.errors import BuildFailed

WEB = "web"
_LINE = re.compile(r"([A-Za-z0-9_-]+)[ \t]*:(.*)")


class ProcfileError(BuildFailed):
    """The Procfile cannot be read; the message names the line."""

    title = "invalid Procfile"


def strip_comment(command: str) -> str:
    """``command`` without a trailing ``# comment`` (a ``#`` inside quotes is kept)."""
    quote = ""
    escaped = False
    previous = " "
    for index, char in enumerate(command):
        if escaped:
            escaped = False
        elif char == "\\" and quote != "'":
            escaped = True
        elif quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "#" and previous in " \t":
            return command[:index].strip()
        previous = char
    return command.strip()


def parse_procfile(text: str) -> dict[str, str]:
    """The process types of a Procfile, in file order: ``{"web": "python app.py", …}``.

    Raises:
        ProcfileError: A line is neither blank, a comment nor ``type: command``, a type
            has no command, or a type is defined twice.
    """
    processes: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.fullmatch(line)
        if match is None:
            raise ProcfileError(
                f"Procfile line {number}: expected 'type: command' (type of letters,"
                " digits, _ and -)"
            )
        name, command = match.group(1), strip_comment(match.group(2))
        if not command:
            raise ProcfileError(f"Procfile line {number}: the {name}: line has no command")
        if name in processes:
            raise ProcfileError(f"Procfile line {number}: process type {name} defined twice")
        processes[name] = command
    return processes
