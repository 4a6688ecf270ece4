"""Throwaway PostgreSQL databases for test sessions and benchmarks.

Each is named ``paastech_<kind>_<pid>_<hex>`` after the process that made it and dropped
when it is done with. A run that was killed cannot drop its own, so every new one first
drops those whose process is gone: test runs against the dev stack's PostgreSQL leave
nothing behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import uuid
from collections.abc import Iterator

import asyncpg
import msgspec

from paastech import db as dbmod
from paastech.settings import DbSettings

_NAME = re.compile(r"^paastech_[a-z0-9]+_(?P<pid>[0-9]+)_[0-9a-f]{8}$")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def create_database(admin: DbSettings, kind: str, *, migrate: bool = True) -> DbSettings:
    """A new database ``paastech_<kind>_<pid>_<hex>`` (migrated unless ``migrate`` is
    false), after dropping the throwaway databases of processes that no longer run."""
    conn = await asyncpg.connect(admin.dsn("postgres"))
    try:
        for (name,) in await conn.fetch("SELECT datname FROM pg_database"):
            match = _NAME.match(name)
            if match and not _alive(int(match["pid"])):
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        name = f"paastech_{kind}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    settings = msgspec.structs.replace(admin, database=name)
    if migrate:
        await dbmod.migrate(settings)
    return settings


async def drop_database(admin: DbSettings, name: str) -> None:
    """Drop ``name``, closing whatever connections it still has."""
    conn = await asyncpg.connect(admin.dsn("postgres"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@contextlib.contextmanager
def throwaway_database(
    admin: DbSettings, kind: str, *, migrate: bool = True
) -> Iterator[DbSettings]:
    """:func:`create_database` for the block, dropped after it (outside any event loop)."""
    settings = asyncio.run(create_database(admin, kind, migrate=migrate))
    try:
        yield settings
    finally:
        asyncio.run(drop_database(admin, settings.database))
