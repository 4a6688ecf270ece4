"""The ``paastech`` git remote: which project a directory deploys to, and adding that remote.

The forge's remote URL is ``ssh://git@HOST:PORT/NAME.git``; the project is ``NAME``.
"""

from __future__ import annotations

import enum
import re
import subprocess
from pathlib import Path

REMOTE = "paastech"

# ssh://[user@]host[:port]/[path/]NAME[.git][/]   or scp-like   [user@]host:[path/]NAME[.git]
_SSH_URL = re.compile(r"^ssh://(?:[^@/]+@)?[^/:]+(?::\d+)?/(?:.*/)?(?P<name>[^/]+?)(?:\.git)?/?$")
_SCP_URL = re.compile(r"^(?:[^@/:]+@)?[^/:]+:(?!//)(?:.*/)?(?P<name>[^/]+?)(?:\.git)?/?$")
_NAME = re.compile(r"^[a-z][a-z0-9-]*$")


def project_from_url(url: str) -> str | None:
    """The project name in a forge remote URL, or None when the URL is not one.

    >>> project_from_url("ssh://git@127.0.0.1:2222/hello.git")
    'hello'
    """
    url = url.strip()
    match = _SSH_URL.match(url) or _SCP_URL.match(url)
    if not match or not _NAME.match(match["name"]):
        return None
    return match["name"]


def _git(cwd: Path, *args: str) -> subprocess.CompletedProcess[str] | None:
    """Run git; None when git itself is missing (then there is no repository to speak of)."""
    try:
        return subprocess.run(
            ["git", "-C", str(cwd), *args], capture_output=True, text=True, check=False
        )
    except OSError:
        return None


def remote_url(cwd: Path, remote: str = REMOTE) -> str | None:
    """The URL of ``remote`` in the repository around ``cwd``, if both exist."""
    done = _git(cwd, "remote", "get-url", remote)
    if done is None or done.returncode != 0:
        return None
    return done.stdout.strip() or None


def project_from_git(cwd: Path) -> str | None:
    """The project the ``paastech`` remote of ``cwd``'s repository points at."""
    url = remote_url(cwd)
    return project_from_url(url) if url else None


def in_git_repo(cwd: Path) -> bool:
    done = _git(cwd, "rev-parse", "--is-inside-work-tree")
    return done is not None and done.returncode == 0 and done.stdout.strip() == "true"


class RemoteResult(enum.Enum):
    """What :func:`add_remote` did."""

    ADDED = "added"
    UNCHANGED = "unchanged"  # already there with the same URL
    CONFLICT = "conflict"  # a ``paastech`` remote points elsewhere; left alone
    NOT_A_REPO = "not a git repository"
    FAILED = "failed"


def add_remote(cwd: Path, url: str, remote: str = REMOTE) -> RemoteResult:
    """Add ``remote`` → ``url`` to the repository around ``cwd``, never overwriting one."""
    if not in_git_repo(cwd):
        return RemoteResult.NOT_A_REPO
    existing = remote_url(cwd, remote)
    if existing is not None:
        return RemoteResult.UNCHANGED if existing == url else RemoteResult.CONFLICT
    done = _git(cwd, "remote", "add", remote, url)
    if done is None or done.returncode != 0:
        return RemoteResult.FAILED
    return RemoteResult.ADDED


def current_branch(cwd: Path) -> str | None:
    """The branch checked out in the repository around ``cwd`` (None: no repo, detached).

    The platform deploys ``main``; a repository made by an older ``git init`` is on
    ``master``, whose push needs ``git push paastech master:main``.
    """
    done = _git(cwd, "symbolic-ref", "--quiet", "--short", "HEAD")
    if done is None or done.returncode != 0:
        return None
    return done.stdout.strip() or None
