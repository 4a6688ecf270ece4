"""The forge's share of a deleted project: its bare repository, removed after the commit.

The gateway writes a ``remove_repo`` row in the delete's transaction (it never touches the
forge's disk); this loop, woken by ``LISTEN`` on :data:`~paastech.releases.OUTBOX_CHANNEL`
and by a periodic look, removes the repository and marks the row done. A failure is
recorded on the row and retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import asyncpg

from paastech import releases
from paastech.errors import PaasTechError
from paastech.forge.repos import GitRepoStore
from paastech.settings import Settings

log = logging.getLogger("paastech.forge.outbox")

LOOK_SECONDS = 30.0


async def remove_repositories(repos: GitRepoStore) -> int:
    """Carry out every pending ``remove_repo`` row; how many were done."""

    async def remove(row: dict[str, Any]) -> None:
        await asyncio.to_thread(repos.delete, row["project_id"])

    return await releases.carry_out(releases.REMOVE_REPO, remove)


async def run_outbox(settings: Settings, repos: GitRepoStore) -> None:
    """Remove deleted projects' repositories until cancelled (survives a PostgreSQL restart)."""
    woken = asyncio.Event()
    while True:
        try:
            conn = await asyncpg.connect(settings.db.dsn(), timeout=10)
            try:
                await conn.add_listener(releases.OUTBOX_CHANNEL, lambda *_: woken.set())
                while not conn.is_closed():
                    woken.clear()
                    await remove_repositories(repos)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(woken.wait(), timeout=LOOK_SECONDS)
            finally:
                with contextlib.suppress(Exception):
                    await conn.close()
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, PaasTechError) as exc:
            log.warning("repository removal paused: %s", exc)
        await asyncio.sleep(2.0)
