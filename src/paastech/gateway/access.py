"""Ownership: every project-scoped route resolves its project through here (404 otherwise)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from paastech.errors import NotFound
from paastech.gateway.auth import Caller
from paastech.gateway.schemas import ProjectOut
from paastech.gateway.tx import fetch
from paastech.gateway.validation import is_project_name
from paastech.settings import Settings

PROJECT_COLUMNS = (
    "id, name, kind, status, current_release, instances, cpu, memory, idle_timeout,"
    " scale_to_zero, asleep, invocations, created_at, updated_at"
)

_OWNED = f"SELECT {PROJECT_COLUMNS} FROM projects WHERE name = $1 AND client = $2"  # noqa: S608 - constant
_OWNED_LOCKED = _OWNED + " FOR UPDATE"


async def owned_project(caller: Caller, name: str, *, lock: bool = False) -> dict[str, Any]:
    """The caller's project ``name``.

    Args:
        caller: Who asks.
        name: The project name from the path.
        lock: Take a row lock (``FOR UPDATE``) — only inside a transaction.

    Raises:
        NotFound: No such project, or another Client's (the answer is the same).
    """
    if not is_project_name(name):
        # No project can have this name (NUL, 10^6 characters...): never ask PostgreSQL.
        raise NotFound("no such project")
    rows = await fetch(_OWNED_LOCKED if lock else _OWNED, name, caller.client_id)
    if not rows:
        raise NotFound(f"no project named {name!r}")
    row: dict[str, Any] = dict(rows[0])
    return row


def app_url(settings: Settings, name: str) -> str:
    """``http://<name>.<apps domain>[:port]`` — the port is omitted when it is 80."""
    return _url_formats(settings)[1].format(name)


def git_url(settings: Settings, name: str) -> str:
    return _url_formats(settings)[0].format(name)


_FORMATS: dict[int, tuple[Settings, tuple[str, str]]] = {}


def _url_formats(settings: Settings) -> tuple[str, str]:
    """(git URL format, app URL format) for these settings, computed once per settings."""
    cached = _FORMATS.get(id(settings))
    if cached is not None and cached[0] is settings:
        return cached[1]
    port = settings.fabio.proxy_addr.rpartition(":")[2]
    suffix = "" if port in {"", "80"} else f":{port}"
    formats = (
        f"ssh://git@{settings.forge.public_host}:{settings.forge.port}/{{}}.git",
        f"http://{{}}.{settings.apps.domain}{suffix}",
    )
    _FORMATS[id(settings)] = (settings, formats)
    return formats


def sql_url_formats(settings: Settings) -> tuple[str, str]:
    """(git URL, app URL) as PostgreSQL ``format()`` patterns (``%s`` for the name)."""
    git, app = _url_formats(settings)
    return git.replace("%", "%%").replace("{}", "%s"), app.replace("%", "%%").replace("{}", "%s")


def project_out(settings: Settings, row: Mapping[str, Any]) -> ProjectOut:
    name = row["name"]
    git_format, url_format = _url_formats(settings)
    return ProjectOut(
        name=name,
        kind=row["kind"],
        git_url=git_format.format(name),
        url=url_format.format(name),
        status=row["status"],
        current_release=row["current_release"],
        instances=row["instances"],
        cpu=row["cpu"],
        memory=row["memory"],
        idle_timeout=row["idle_timeout"],
        scale_to_zero=row["scale_to_zero"],
        asleep=row["asleep"],
        invocations=row["invocations"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
