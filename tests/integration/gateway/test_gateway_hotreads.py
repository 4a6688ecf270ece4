"""The hot-read lease on the real PostgreSQL: bounded, fair, and never reuses a bad session."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from paastech.gateway.hotreads import HotReads
from paastech.settings import Settings


async def test_more_readers_than_connections_all_get_answers(settings: Settings) -> None:
    """50 concurrent reads over 2 connections all complete; never more than 2 are opened."""
    lease = HotReads(settings.db.dsn(), size=2)
    try:
        results = await asyncio.gather(
            *(lease.fetch("SELECT $1::int AS n, pg_backend_pid() AS pid", i) for i in range(50))
        )
        assert sorted(r[0]["n"] for r in results) == list(range(50))
        assert len({r[0]["pid"] for r in results}) <= 2
    finally:
        await lease.close()


async def test_sql_errors_keep_the_connection_cancellation_drops_it(settings: Settings) -> None:
    """A failed statement reuses the session; a cancelled one is terminated, not reused."""
    lease = HotReads(settings.db.dsn(), size=1)
    try:
        pid = (await lease.fetch("SELECT pg_backend_pid() AS pid"))[0]["pid"]
        with pytest.raises(asyncpg.PostgresError):
            await lease.fetch("SELECT 1/0")
        assert (await lease.fetch("SELECT pg_backend_pid() AS pid"))[0]["pid"] == pid
        slow = asyncio.create_task(lease.fetch("SELECT pg_sleep(5)"))
        await asyncio.sleep(0.2)
        slow.cancel()
        with pytest.raises(asyncio.CancelledError):
            await slow
        assert (await lease.fetch("SELECT pg_backend_pid() AS pid"))[0]["pid"] != pid
    finally:
        await lease.close()


async def test_a_killed_connection_fails_once_then_recovers(settings: Settings) -> None:
    """After the server kills the session, one read fails and the next one reconnects."""
    lease = HotReads(settings.db.dsn(), size=1)
    try:
        pid = (await lease.fetch("SELECT pg_backend_pid() AS pid"))[0]["pid"]
        admin = await asyncpg.connect(settings.db.dsn())
        try:
            await admin.execute("SELECT pg_terminate_backend($1)", pid)
        finally:
            await admin.close()
        await asyncio.sleep(0.1)
        outcomes = []
        for _ in range(2):
            try:
                await lease.fetch("SELECT 1")
                outcomes.append("ok")
            except (
                asyncpg.PostgresError,
                asyncpg.InterfaceError,
                asyncpg.exceptions.InternalClientError,
                OSError,
            ):
                outcomes.append("failed")
        assert outcomes[-1] == "ok"
    finally:
        await lease.close()
