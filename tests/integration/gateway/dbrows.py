"""Direct SQL for the gateway tests: seed what the forge would write, read rows back."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg

from paastech.settings import Settings


async def sql(settings: Settings, query: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(settings.db.dsn())
    try:
        return list(await conn.fetch(query, *args))
    finally:
        await conn.close()


async def project_id(settings: Settings, name: str) -> uuid.UUID:
    rows = await sql(settings, "SELECT id FROM projects WHERE name = $1", name)
    value: uuid.UUID = rows[0]["id"]
    return value


async def seed_build(
    settings: Settings, name: str, *, status: str = "succeeded", log: str = "step 1\n"
) -> uuid.UUID:
    """A build row as the forge writes it."""
    pid = await project_id(settings, name)
    build_id = uuid.uuid4()
    await sql(
        settings,
        "INSERT INTO builds (id, project, number, status, commit_sha, image, digest, log)"
        " VALUES ($1, $2, (SELECT coalesce(max(number), 0) + 1 FROM builds WHERE project = $2),"
        " $3, 'abc123', $4, 'sha256:feed', $5)",
        build_id,
        pid,
        status,
        f"127.0.0.1:5000/{name}:1",
        log,
    )
    return build_id


async def seed_release(settings: Settings, name: str) -> None:
    """A build and its release v(next), as a successful push leaves them."""
    build_id = await seed_build(settings, name)
    pid = await project_id(settings, name)
    await sql(
        settings,
        "INSERT INTO releases (id, project, version, build, image, digest, status)"
        " VALUES ($1, $2, (SELECT coalesce(max(version), 0) + 1 FROM releases WHERE project = $2),"
        " $3, 'img', 'sha256:feed', 'running')",
        uuid.uuid4(),
        pid,
        build_id,
    )
    await sql(
        settings,
        "UPDATE projects SET current_release = (SELECT max(version) FROM releases"
        " WHERE project = $1), status = 'running' WHERE id = $1",
        pid,
    )


async def snapshot(settings: Settings) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table the API changes, for 'nothing changed' assertions."""
    tables = {
        "clients": "id",
        "api_tokens": "id",
        "ssh_keys": "id",
        "projects": "id",
        "env_vars": "id",
        "builds": "id",
        "releases": "id",
        "domains": "id",
        "audit_events": "id",
        "release_events": "id",
        "outbox": "id",
    }
    out: dict[str, list[tuple[Any, ...]]] = {}
    for table, key in tables.items():
        rows = await sql(settings, f"SELECT * FROM {table} ORDER BY {key}")  # noqa: S608 - fixed names
        # last_used_at moves when a token is used; it is not state the caller changed.
        out[table] = [tuple(v for k, v in r.items() if k != "last_used_at") for r in rows]
    return out


@contextlib.asynccontextmanager
async def notifications(settings: Settings, channel: str) -> AsyncIterator[list[str]]:
    """The payloads NOTIFYed on ``channel`` while the block runs (and shortly after)."""
    heard: list[str] = []
    conn = await asyncpg.connect(settings.db.dsn())
    try:
        await conn.add_listener(channel, lambda *args: heard.append(str(args[-1])))
        yield heard
        await asyncio.sleep(0.2)  # delivery is asynchronous
    finally:
        await conn.close()
