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

from paastech.db.listen import listen_forever
from paastech.gateway.auth import TokenCache
from paastech.settings import DbSettings

log = logging.getLogger(__name__)

CHANNEL = "paastech_token_revoked"


class RevocationListener:
    """Keeps a LISTEN connection up and applies what it hears to a :class:`TokenCache`."""

    def __init__(self, db: DbSettings, cache: TokenCache) -> None:
        self._db = db
        self._cache = cache

    def _notified(self, payload: str) -> None:
        try:
            self._cache.evict({UUID(payload)})
        except ValueError:
            self._cache.clear()  # not ours to parse: be safe

    async def _listening(self, _conn: asyncpg.Connection) -> None:
        self._cache.clear()  # anything cached before now may have missed a NOTIFY
        self._cache.live = True

    def _lost(self) -> None:
        self._cache.live = False
        self._cache.clear()

    async def run(self) -> None:
        """Listen until cancelled, reconnecting after any loss."""
        await listen_forever(
            self._db,
            CHANNEL,
            self._notified,
            log=log,
            what="token revocation listener",
            resync=self._listening,
            lost=self._lost,
        )


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
