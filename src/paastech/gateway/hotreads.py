"""A few dedicated connections for hot, single-statement reads outside transactions.

asyncpg's pool costs about as much Python per acquire/release as the query it wraps
(proxy objects, holder queues, timeouts, reset hooks); on the benchmarked project list
that was a third of the gateway's CPU per request. Reads that need no transaction go
through this lease instead: a deque of idle connections and a FIFO of waiters.

Safety rules: a connection whose statement did not end in an ordinary PostgreSQL error
(cancelled request, lost connection, protocol trouble) is terminated and replaced lazily,
never reused; the lease opens at most ``size`` connections, on demand.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import AsyncIterator

import asyncpg

from paastech.errors import DatabaseUnavailable
from paastech.settings import DbSettings

HOT_READ_CONNECTIONS = 4


class HotReads:
    """At most ``size`` connections, each running one statement at a time."""

    def __init__(
        self, dsn: str, size: int = HOT_READ_CONNECTIONS, db: DbSettings | None = None
    ) -> None:
        self._dsn = dsn
        self._db = db or DbSettings()
        self._size = size
        self._open = 0
        self._idle: collections.deque[asyncpg.Connection] = collections.deque()
        self._waiters: collections.deque[asyncio.Future[asyncpg.Connection]] = collections.deque()
        self._closed = False

    async def fetch(self, query: str, *args: object) -> list[asyncpg.Record]:
        """Run one read statement and return its rows."""
        # The pool's acquire limit applies to waiting for a lease slot too.
        async with asyncio.timeout(self._db.pool_acquire_timeout_seconds):
            conn = await self._acquire()
        try:
            rows: list[asyncpg.Record] = await conn.fetch(query, *args)
        except asyncpg.PostgresError:
            self._release(conn)  # an ordinary statement error leaves the session usable
            raise
        except BaseException:
            self._discard(conn)
            raise
        self._release(conn)
        return rows

    async def _acquire(self) -> asyncpg.Connection:
        while True:
            if self._closed:
                raise DatabaseUnavailable("the database connections are closed")
            while self._idle:
                conn = self._idle.pop()
                if not conn.is_closed():
                    return conn
                self._open -= 1
            if self._open < self._size:
                self._open += 1
                try:
                    return await asyncpg.connect(
                        self._dsn,
                        timeout=self._db.connect_timeout_seconds,
                        command_timeout=self._db.command_timeout_seconds,
                    )
                except BaseException:
                    self._open -= 1
                    raise
            loop = asyncio.get_running_loop()
            waiter: asyncio.Future[asyncpg.Connection] = loop.create_future()
            self._waiters.append(waiter)
            try:
                return await waiter
            except _Retry:
                continue  # a connection was discarded: a slot is free, go round again
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                    self._release(waiter.result())  # handed over just as we were cancelled
                raise

    def _release(self, conn: asyncpg.Connection) -> None:
        if self._closed or conn.is_closed():
            self._discard(conn)
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        self._idle.append(conn)

    def _discard(self, conn: asyncpg.Connection) -> None:
        self._open -= 1
        conn.terminate()
        # A waiter may now open a connection of its own; wake one so it retries.
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(_Retry())
                return

    async def close(self) -> None:
        """Close idle connections now; busy ones close when their statement returns."""
        self._closed = True
        while self._idle:
            conn = self._idle.pop()
            self._open -= 1
            await conn.close()
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_exception(DatabaseUnavailable("the database connections are closed"))
        self._waiters.clear()


class _Retry(Exception):
    """Internal: a discarded connection freed a slot; the waiter should acquire again."""


_current: HotReads | None = None


def current() -> HotReads | None:
    """The lease of the running gateway, if one is open."""
    return _current


@contextlib.asynccontextmanager
async def hot_reads(db: DbSettings, size: int = HOT_READ_CONNECTIONS) -> AsyncIterator[HotReads]:
    """Open the process's hot-read lease for the block (the app lifespan does this)."""
    global _current  # noqa: PLW0603 - one lease per process, like the tables' engine
    lease = HotReads(db.dsn(), size, db)
    _current = lease
    try:
        yield lease
    finally:
        _current = None
        await lease.close()
