"""Revocations reach every gateway replica: LISTEN for revoked tokens, evict the cache.

A trigger on ``api_tokens`` (migration 0003) sends ``NOTIFY paastech_token_revoked, '<id>'``
inside the transaction that revokes or deletes a token, so the notification goes out
exactly when the revocation commits. Each gateway process keeps one dedicated connection
LISTENing; while it is up the token cache is ``live``. When it drops the cache is emptied
and switched off (every request asks the database) until the listener is back: a lost
notification can never leave a revoked token served from memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from uuid import UUID

import asyncpg

from paastech.gateway.auth import TokenCache
from paastech.settings import DbSettings

log = logging.getLogger(__name__)

CHANNEL = "paastech_token_revoked"
RECONNECT_SECONDS = 1.0
KEEPALIVE_SECONDS = 10.0


class RevocationListener:
    """Keeps a LISTEN connection up and applies what it hears to a :class:`TokenCache`."""

    def __init__(self, db: DbSettings, cache: TokenCache) -> None:
        self._db = db
        self._cache = cache
        self._lost = asyncio.Event()

    def _notified(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        try:
            self._cache.evict({UUID(payload)})
        except ValueError:
            self._cache.clear()  # not ours to parse: be safe

    def _terminated(self, _conn: object) -> None:
        self._cache.live = False
        self._cache.clear()
        self._lost.set()

    async def run(self) -> None:
        """Listen until cancelled, reconnecting after any loss."""
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(
                    self._db.dsn(),
                    timeout=self._db.connect_timeout_seconds,
                    command_timeout=self._db.command_timeout_seconds,
                )
                self._lost.clear()
                conn.add_termination_listener(self._terminated)
                await conn.add_listener(CHANNEL, self._notified)
                self._cache.clear()  # anything cached before now may have missed a NOTIFY
                self._cache.live = True
                while not self._lost.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._lost.wait(), KEEPALIVE_SECONDS)
                        break
                    # A silently dropped network shows up as a command timeout here.
                    await conn.execute("SELECT 1")
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
                log.warning("token revocation listener lost the database: %s", exc)
            finally:
                self._cache.live = False
                self._cache.clear()
                if conn is not None and not conn.is_closed():
                    conn.terminate()
            await asyncio.sleep(RECONNECT_SECONDS)


@contextlib.asynccontextmanager
async def listening(db: DbSettings, cache: TokenCache) -> AsyncIterator[None]:
    """Run a :class:`RevocationListener` for the block's duration."""
    task = asyncio.get_running_loop().create_task(RevocationListener(db, cache).run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        cache.live = False
