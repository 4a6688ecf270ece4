"""A deleted SSH key stops working on connections that are already open (#15)."""

from __future__ import annotations

import asyncio

import asyncpg
import asyncssh
import pytest
from forge_harness import Forge, User

from paastech.settings import Settings

pytestmark = pytest.mark.integration


async def sql(settings: Settings, query: str, *args: object) -> None:
    conn = await asyncpg.connect(settings.db.dsn())
    try:
        await conn.execute(query, *args)
    finally:
        await conn.close()


async def _connect(forge: Forge, user: User) -> asyncssh.SSHClientConnection:
    return await asyncssh.connect(
        "127.0.0.1",
        forge.port,
        username="git",
        client_keys=[str(user.key)],
        known_hosts=None,
        agent_path=None,
        config=None,
    )


async def _upload_pack(
    conn: asyncssh.SSHClientConnection, project: str
) -> asyncssh.SSHCompletedProcess:
    """One git-upload-pack session over ``conn``: the advertisement, then a flush to end it."""
    return await conn.run(f"git-upload-pack '{project}.git'", input=b"0000", encoding=None)


@pytest.mark.parametrize(
    "delete",
    [
        "DELETE FROM ssh_keys WHERE client = $1",  # as DELETE /api/v1/keys/{id} does
        "DELETE FROM clients WHERE id = $1",  # the key goes with its Client
    ],
)
async def test_deleting_a_key_closes_its_open_connections(
    forge: Forge, settings: Settings, delete: str
) -> None:
    """An open connection of a deleted key is closed and serves no new git session."""
    alice = await forge.user("alice")
    await forge.project(alice, "web")
    bob = await forge.user("bob")
    await forge.project(bob, "shop")
    conn = await _connect(forge, alice)
    other = await _connect(forge, bob)
    try:
        assert (await _upload_pack(conn, "web")).exit_status == 0
        await sql(settings, delete, alice.client_id)
        await asyncio.wait_for(conn.wait_closed(), timeout=30)
        with pytest.raises((asyncssh.Error, OSError)):
            await _upload_pack(conn, "web")
        assert (await _upload_pack(other, "shop")).exit_status == 0  # other keys are untouched
    finally:
        conn.close()
        other.close()


async def test_a_new_session_rechecks_the_key(forge: Forge, settings: Settings) -> None:
    """Even if the closing notification were lost, the next session on the link is refused."""
    alice = await forge.user("alice")
    await forge.project(alice, "web")
    conn = await _connect(forge, alice)
    try:
        # Delete without the trigger firing (as if the NOTIFY never arrived).
        await sql(settings, "ALTER TABLE ssh_keys DISABLE TRIGGER ssh_keys_deleted")
        await sql(settings, "DELETE FROM ssh_keys WHERE client = $1", alice.client_id)
        done = await _upload_pack(conn, "web")
        assert done.exit_status == 1
        assert b"SSH key was removed" in (done.stderr or b"")
    finally:
        await sql(settings, "ALTER TABLE ssh_keys ENABLE TRIGGER ssh_keys_deleted")
        conn.close()
