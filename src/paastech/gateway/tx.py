"""Transactions and the mapping of PostgreSQL integrity errors into domain errors."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import asyncpg
from piccolo.engine.postgres import PostgresTransaction

from paastech.db.tables import Client
from paastech.errors import Conflict


def transaction() -> PostgresTransaction:
    """A transaction on the tables' engine; Piccolo queries inside it run on its connection."""
    tx: PostgresTransaction = Client._meta.db.transaction()
    return tx


@contextlib.contextmanager
def conflict_on_duplicate(message: str) -> Iterator[None]:
    """A unique-constraint violation (a race past the pre-check) becomes a 409."""
    try:
        yield
    except asyncpg.exceptions.UniqueViolationError as exc:
        raise Conflict(message) from exc
