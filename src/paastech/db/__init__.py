"""Database access: one Piccolo engine per process, SQL migrations applied in order."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from importlib import resources
from typing import Any

import asyncpg
from piccolo.engine.postgres import PostgresEngine

from paastech.db.tables import TABLES
from paastech.errors import DatabaseUnavailable
from paastech.settings import DbSettings

# Arbitrary constant: serialises concurrent `migrate` runs (two replicas starting at once).
_MIGRATION_LOCK = 0x7061617374656368


@contextlib.contextmanager
def map_db_errors() -> Iterator[None]:
    """Map connection-level PostgreSQL failures into :class:`DatabaseUnavailable`."""
    try:
        yield
    except (OSError, asyncpg.exceptions.ConnectionDoesNotExistError) as exc:
        raise DatabaseUnavailable(f"postgres: {exc}") from exc
    except asyncpg.exceptions.CannotConnectNowError as exc:
        raise DatabaseUnavailable(f"postgres: {exc}") from exc


class _TimedPool:
    """asyncpg's pool with ``db.pool_acquire_timeout_seconds`` on every acquire.

    Piccolo acquires without a timeout; a pool drained by a hung PostgreSQL would make every
    request wait forever. Everything else is the pool's own.
    """

    def __init__(self, pool: asyncpg.Pool, timeout: float) -> None:
        self._pool = pool
        self._timeout = timeout

    def acquire(self, *, timeout: float | None = None) -> Any:
        return self._pool.acquire(timeout=timeout or self._timeout)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pool, name)


def make_engine(db: DbSettings) -> PostgresEngine:
    """An engine for ``db`` bound to every table class (not yet connected)."""
    engine = PostgresEngine(
        config={
            "dsn": db.dsn(),
            # Connect and per-statement limits: a black-holed PostgreSQL fails requests
            # with a 503 after these, rather than hanging them.
            "timeout": db.connect_timeout_seconds,
            "command_timeout": db.command_timeout_seconds,
        },
        extensions=(),
        log_queries=False,
    )
    for table in TABLES:
        table._meta.db = engine
    return engine


@contextlib.asynccontextmanager
async def connected(db: DbSettings, **pool_options: Any) -> AsyncIterator[PostgresEngine]:
    """Connect the tables to the database with a pool for the block's duration.

    ``pool_options`` go to asyncpg's ``create_pool`` (e.g. ``reset=``).
    """
    engine = make_engine(db)
    with map_db_errors():
        await engine.start_connection_pool(
            min_size=db.pool_min, max_size=db.pool_max, **pool_options
        )
    engine.pool = _TimedPool(engine.pool, db.pool_acquire_timeout_seconds)
    try:
        yield engine
    finally:
        await engine.close_connection_pool()


async def _grant_runtime(conn: asyncpg.Connection, db: DbSettings) -> None:
    role = _quote_ident(db.user)
    database = _quote_ident(db.database)
    # Identifiers come from settings (an operator), quoted; never from a request.
    sql = (
        f"GRANT CONNECT, TEMPORARY ON DATABASE {database} TO {role};"  # noqa: S608
        f"GRANT USAGE ON SCHEMA public TO {role};"
        f"REVOKE CREATE ON SCHEMA public FROM {role};"
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role};"
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role};"
        f"REVOKE INSERT, UPDATE, DELETE ON schema_migrations FROM {role};"
    )
    await conn.execute(sql)


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def migration_files() -> list[tuple[str, str]]:
    """(name, sql) of every migration shipped with the package, in order."""
    folder = resources.files("paastech.db") / "migrations"
    names = sorted(p.name for p in folder.iterdir() if p.name.endswith(".sql"))
    return [(name.removesuffix(".sql"), (folder / name).read_text()) for name in names]


async def migrate(db: DbSettings) -> list[str]:
    """Apply pending migrations as the schema owner, each in its own transaction. Idempotent.

    With a ``migrate_user`` distinct from ``user``, the run-time role is then granted the
    least it needs: read and write rows, use sequences, nothing on the schema itself (no
    DDL, no ownership, no superuser).

    Returns:
        The names of the migrations applied by this call (empty when up to date).
    """
    owner = db.owner()
    with map_db_errors():
        conn = await asyncpg.connect(owner.dsn(), timeout=db.connect_timeout_seconds)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK)
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations")}
        applied: list[str] = []
        for name, sql in migration_files():
            if name in done:
                continue
            async with conn.transaction():
                await conn.execute(sql)
                await conn.execute("INSERT INTO schema_migrations (name) VALUES ($1)", name)
            applied.append(name)
        if owner.user != db.user:
            await _grant_runtime(conn, db)
        return applied
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK)
        await conn.close()
