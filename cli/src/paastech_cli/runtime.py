"""What a command runs against: environment, streams, prompts and the gateway connection.

:func:`paastech_cli.app.main` installs one :class:`Runtime` per invocation; commands reach it
through :func:`current`. Tests build their own (a temp HOME, an ``httpx.MockTransport``,
scripted prompts) so nothing in a command touches ``os.environ`` or the real terminal.
"""

from __future__ import annotations

import contextvars
import getpass
import os
import sys
import webbrowser
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, TextIO

import httpx
from cyclopts import Group, Parameter
from rich.console import Console

from paastech_cli.api import GatewayClient
from paastech_cli.credentials import CredentialStore
from paastech_cli.exits import Aborted, NotLoggedIn, UsageError
from paastech_cli.remote import project_from_git

DEFAULT_API_URL = "http://127.0.0.1:8000"

GLOBAL = Group("Global options", sort_key=100)


class _Console(Console):
    """A rich Console that lets a closed pipe surface as :class:`BrokenPipeError`.

    rich's default exits with status 1 on its own; ``main`` treats ``paastech … | head`` as the
    success it is, whichever of rich or a plain write notices the closed pipe first.
    """

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError


@dataclass
class Runtime:
    """The outside world of one invocation."""

    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    cwd: Path = field(default_factory=Path.cwd)
    stdin: TextIO = field(default_factory=lambda: sys.stdin)
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    transport: httpx.AsyncBaseTransport | None = None
    prompt_secret: Callable[[str], str] = getpass.getpass
    open_url: Callable[[str], bool] = webbrowser.open
    # Set by `logs -f`: Ctrl-C is how a follow ends, so it is a success there.
    interrupt_exit: int = 130

    def __post_init__(self) -> None:
        self.console = _Console(file=self.stdout, highlight=False)
        self.err_console = _Console(file=self.stderr, highlight=False)
        # Tables in a pipe may neither wrap nor be cut: scripts grep and awk whole rows.
        # (Help keeps the normal width, so it stays readable in `| less`.)
        self.table_console = (
            self.console
            if self.console.is_terminal
            else _Console(file=self.stdout, highlight=False, width=10_000)
        )
        self.credentials = CredentialStore.for_environ(self.environ)

    def ask(self, prompt: str) -> str:
        """One line typed on stdin after ``prompt`` (shown on stderr)."""
        self.stderr.write(prompt)
        self.stderr.flush()
        line = self.stdin.readline()
        if not line:
            raise Aborted("no answer: standard input is closed")
        return line.rstrip("\n")


_current: contextvars.ContextVar[Runtime] = contextvars.ContextVar("paastech_runtime")


@contextmanager
def installed(runtime: Runtime) -> Iterator[Runtime]:
    """Make ``runtime`` the one :func:`current` returns for the duration."""
    token = _current.set(runtime)
    try:
        yield runtime
    finally:
        _current.reset(token)


def current() -> Runtime:
    """The runtime of the running invocation (a default one outside :func:`installed`)."""
    try:
        return _current.get()
    except LookupError:
        runtime = Runtime()
        _current.set(runtime)
        return runtime


# -- options every command shares ------------------------------------------------------------


@Parameter(name="*", group=GLOBAL)
@dataclass(frozen=True, kw_only=True)
class Gateway:
    """Which gateway to talk to."""

    api_url: Annotated[str | None, Parameter(name="--api-url", show_default=False)] = None
    """Gateway URL [env PAASTECH_API_URL; default http://127.0.0.1:8000]."""

    def url(self) -> str:
        """--api-url, else PAASTECH_API_URL, else the local default; always http(s)://…"""
        rt = current()
        url = (self.api_url or rt.environ.get("PAASTECH_API_URL") or DEFAULT_API_URL).strip()
        if not url.startswith(("http://", "https://")):
            raise UsageError(f"the gateway URL must start with http:// or https://, got {url!r}")
        return url.rstrip("/")

    def client(self, *, auth: bool = True, token: str | None = None) -> GatewayClient:
        """A client for this gateway; with ``auth``, carrying ``token``, else the env or saved one.

        ``PAASTECH_TOKEN`` wins over the saved session, so CI never depends on a login.
        """
        rt = current()
        url = self.url()
        if auth and token is None:
            token = rt.environ.get("PAASTECH_TOKEN") or None
            if token is None:
                saved = rt.credentials.get(url)
                if saved is not None and saved.expired():
                    raise NotLoggedIn(
                        f"your session on {url} expired at {saved.expires_at}:"
                        " run `paastech login` again"
                    )
                token = saved.token if saved else None
            if token is None:
                raise NotLoggedIn(f"not logged in to {url}: run `paastech login` first")
        return GatewayClient(url, token=token, transport=rt.transport)


@Parameter(name="*", group=GLOBAL)
@dataclass(frozen=True, kw_only=True)
class Target(Gateway):
    """Which gateway, and which project on it."""

    project: Annotated[str | None, Parameter(name=["--project", "-p"], show_default=False)] = None
    """Project name [default: from the `paastech` git remote of the current directory]."""

    def name(self) -> str:
        """The project: ``--project``, else inferred from the ``paastech`` git remote."""
        if self.project:
            return self.project
        inferred = project_from_git(current().cwd)
        if inferred is None:
            raise UsageError(
                "no project: pass --project NAME, or run inside a git repository with a"
                " `paastech` remote"
            )
        return inferred


JsonFlag = Annotated[
    bool,
    Parameter(name="--json", negative="", show_default=False, help="Print JSON (for scripts)."),
]
