"""A dedicated LISTEN connection, kept up across PostgreSQL restarts.

For a notification that must reach every process (a revoked token, a deleted SSH key):
connect, LISTEN, ``resync`` (whatever changed while nobody listened), then wait for
notifications, calling ``keepalive`` on the connection every :data:`KEEPALIVE_SECONDS` (a
silently dropped network shows up as a command timeout there). On any loss ``lost`` is
called the moment it is seen, and again once the connection is gone; a new connection is
tried :data:`RECONNECT_SECONDS` later, and ``resync`` runs again once it is LISTENing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import asyncpg

from paastech.settings import DbSettings

RECONNECT_SECONDS = 1.0
KEEPALIVE_SECONDS = 10.0

ConnHook = Callable[[asyncpg.Connection], Awaitable[None]]


async def _ping(conn: asyncpg.Connection) -> None:
    await conn.execute("SELECT 1")


def _nothing() -> None:
    pass


async def listen_forever(
    db: DbSettings,
    channel: str,
    notified: Callable[[str], object],
    *,
    log: logging.Logger,
    what: str,
    resync: ConnHook,
    keepalive: ConnHook = _ping,
    lost: Callable[[], None] = _nothing,
) -> None:
    """LISTEN on ``channel`` until cancelled, calling ``notified`` with each payload.

    Args:
        db: The database to listen on (a connection of its own, outside any pool).
        channel: The NOTIFY channel.
        notified: Called with the payload of each notification.
        log: Where a lost connection is reported, as ``<what> lost the database: <why>``.
        what: Names the listener in that line.
        resync: Run after each (re)connect, once LISTENing: catches up on what a lost
            notification may have missed.
        keepalive: Run on the connection every :data:`KEEPALIVE_SECONDS` while it is up.
        lost: Called the moment the connection is lost, and once it is closed.
    """
    gone = asyncio.Event()

    def terminated(_conn: object) -> None:
        lost()
        gone.set()

    while True:
        conn: asyncpg.Connection | None = None
        try:
            conn = await asyncpg.connect(
                db.dsn(),
                timeout=db.connect_timeout_seconds,
                command_timeout=db.command_timeout_seconds,
            )
            gone.clear()
            conn.add_termination_listener(terminated)
            await conn.add_listener(channel, lambda _c, _pid, _ch, payload: notified(payload))
            await resync(conn)
            while not gone.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(gone.wait(), KEEPALIVE_SECONDS)
                    break
                await keepalive(conn)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
            log.warning("%s lost the database: %s", what, exc)
        finally:
            lost()
            if conn is not None and not conn.is_closed():
                conn.terminate()
        await asyncio.sleep(RECONNECT_SECONDS)
