"""A deleted SSH key ends its open connections at once, on every forge process.

A trigger on ``ssh_keys`` (migration 0003) sends ``NOTIFY paastech_ssh_key_deleted,
'<fingerprint>'`` in the transaction that deletes a key (through the API, or by deleting its
Client). Each forge process LISTENs on a dedicated connection and closes every connection
that authenticated with that key; each new session also re-checks its key in the database
(``GitSession``), so a notification lost while the listener was
reconnecting cannot keep a deleted key working. After every (re)connect the registry sweeps
all open connections against the table for the same reason.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import asyncpg

from paastech.db.listen import listen_forever
from paastech.settings import DbSettings

log = logging.getLogger(__name__)

CHANNEL = "paastech_ssh_key_deleted"

Closer = Callable[[], None]


@dataclass
class KeyRegistry:
    """Open connections by the fingerprint of the key they authenticated with."""

    _open: dict[str, dict[int, Closer]] = field(default_factory=dict)

    def add(self, fingerprint: str, conn_id: int, close: Closer) -> None:
        self._open.setdefault(fingerprint, {})[conn_id] = close

    def remove(self, fingerprint: str, conn_id: int) -> None:
        conns = self._open.get(fingerprint)
        if conns is not None:
            conns.pop(conn_id, None)
            if not conns:
                del self._open[fingerprint]

    def revoke(self, fingerprint: str) -> int:
        """Close every connection of ``fingerprint``; returns how many."""
        closers = list(self._open.pop(fingerprint, {}).values())
        for close in closers:
            close()
        if closers:
            log.info("forge: key %s deleted, closed %d connection(s)", fingerprint, len(closers))
        return len(closers)

    def fingerprints(self) -> list[str]:
        return list(self._open)


class KeyWatcher:
    """Keeps a LISTEN connection up and closes connections of deleted keys."""

    def __init__(self, db: DbSettings, registry: KeyRegistry) -> None:
        self._db = db
        self._registry = registry

    async def _sweep(self, conn: asyncpg.Connection) -> None:
        open_now = self._registry.fingerprints()
        if not open_now:
            return
        rows = await conn.fetch(
            "SELECT fingerprint FROM ssh_keys WHERE fingerprint = ANY($1::text[])", open_now
        )
        for fingerprint in set(open_now) - {r["fingerprint"] for r in rows}:
            self._registry.revoke(fingerprint)

    async def run(self) -> None:
        """Listen until cancelled, reconnecting (and sweeping) after any loss."""
        await listen_forever(
            self._db,
            CHANNEL,
            self._registry.revoke,
            log=log,
            what="forge: key deletion listener",
            resync=self._sweep,
            keepalive=self._sweep,  # also the keepalive of a silent network
        )
