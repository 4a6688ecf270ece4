"""Transactions and the mapping of PostgreSQL integrity errors into domain errors."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import cast

import asyncpg
from piccolo.engine.postgres import PostgresEngine, PostgresTransaction

from paastech.db.tables import Client
from paastech.errors import Conflict, DatabaseUnavailable
from paastech.gateway import hotreads


def transaction() -> PostgresTransaction:
    """A transaction on the tables' engine; Piccolo queries inside it run on its connection."""
    tx: PostgresTransaction = Client._meta.db.transaction()
    return tx


async def fetch(query: str, *args: object) -> list[asyncpg.Record]:
    """Run SQL (``$1`` placeholders) straight on asyncpg, for hot read paths.

    Uses the current Piccolo transaction's connection when inside one, else the hot-read
    lease (:mod:`paastech.gateway.hotreads`) when the app opened one, else the pool. Skips
    Piccolo's query compilation and record-to-dict copying.
    """
    engine = cast("PostgresEngine", Client._meta.db)
    tx = engine.current_transaction.get()
    if tx is not None:
        rows: list[asyncpg.Record] = await tx.connection.fetch(query, *args)
        return rows
    lease = hotreads.current()
    if lease is not None:
        return await lease.fetch(query, *args)
    if engine.pool is None:
        raise DatabaseUnavailable("the database pool is not connected")
    async with engine.pool.acquire() as conn:
        rows = await conn.fetch(query, *args)
        return rows


@contextlib.contextmanager
def conflict_on_duplicate(message: str) -> Iterator[None]:
    """A unique-constraint violation (a race past the pre-check) becomes a 409."""
    try:
        yield
    except asyncpg.exceptions.UniqueViolationError as exc:
        raise Conflict(message) from exc
