"""The forge's SSH server: key auth against the database, one git service per session.

Authentication is public key only: the key's SHA256 fingerprint (as ``ssh-keygen -l``
prints it) is looked up in ``ssh_keys``, and the owning Client is who the connection acts
for. Deleting the key closes the connection (:mod:`paastech.forge.keywatch`) and every new
session re-checks that the key still exists. Passwords, keyboard-interactive, PTYs, agent
and X11 forwarding, and every kind of port forwarding are off. The host key is generated on
first start and kept in ``<state_dir>/forge/ssh_host_ed25519_key`` so clients see the same
host ever after.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import shutil
import signal
from pathlib import Path
from uuid import UUID

import asyncssh

from paastech import db
from paastech.db.tables import SshKey
from paastech.errors import PaasTechError
from paastech.forge.builds import Builder
from paastech.forge.context import SAFE_PATH, Activity, ForgeContext
from paastech.forge.keywatch import KeyWatcher
from paastech.forge.nomad_builder import NomadBuilder, nomad_builder
from paastech.forge.outbox import run_outbox
from paastech.forge.recovery import recover_builds
from paastech.forge.repos import GitRepoStore
from paastech.forge.session import GitSession
from paastech.settings import Settings

log = logging.getLogger(__name__)

HOST_KEY_NAME = "ssh_host_ed25519_key"
RECOVERY_RETRY = 10.0


def load_host_key(forge_dir: Path) -> asyncssh.SSHKey:
    """The forge's host key, generated and stored (mode 0600) on first use."""
    path = forge_dir / HOST_KEY_NAME
    if not path.exists():
        key = asyncssh.generate_private_key("ssh-ed25519", comment="paastech-forge")
        staging = forge_dir / f".{HOST_KEY_NAME}.{os.getpid()}"
        fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(key.export_private_key())
        try:
            # link, not rename: if another process won the race, its key stays.
            os.link(staging, path)
        except FileExistsError:
            pass
        finally:
            staging.unlink()
        path.with_suffix(".pub").write_bytes(asyncssh.read_private_key(path).export_public_key())
    return asyncssh.read_private_key(path)


class ForgeServer(asyncssh.SSHServer):
    """One client connection: authenticates the key, then opens :class:`GitSession` s."""

    def __init__(self, ctx: ForgeContext) -> None:
        self._ctx = ctx
        self._conn: asyncssh.SSHServerConnection | None = None
        self._candidate: UUID | None = None
        self._candidate_key = ""
        self._fingerprint = ""  # of the key this connection authenticated with
        self._revoked = False
        self._known: dict[str, UUID | None] = {}  # fingerprint -> client, this connection
        self._client_id: UUID | None = None
        self._activity = Activity()
        self._sessions: list[GitSession] = []
        self._watchdog: asyncio.Task[None] | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn
        self._watchdog = asyncio.get_running_loop().create_task(self._watch_idle())

    def connection_lost(self, exc: Exception | None) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
        if self._fingerprint:
            self._ctx.keys.remove(self._fingerprint, id(self))

    def revoke(self) -> None:
        """The key was deleted: tell the open sessions, refuse new ones, close."""
        self._revoked = True
        for session in self._sessions:
            session.say_goodbye("! your SSH key was removed; closing the connection\n")
        if self._conn is not None:
            self._conn.close()

    def begin_auth(self, username: str) -> bool:
        return True  # every connection must authenticate

    def password_auth_supported(self) -> bool:
        return False

    def kbdint_auth_supported(self) -> bool:
        return False

    def host_based_auth_supported(self) -> bool:
        return False

    def public_key_auth_supported(self) -> bool:
        return True

    async def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        # Called for the key query and again for the signed request; the signed one is
        # always the last call before auth completes, so the candidate is the signer.
        self._activity.touch()
        fingerprint = key.get_fingerprint("sha256")
        if fingerprint not in self._known:
            row = (
                await SshKey.select(SshKey.client).where(SshKey.fingerprint == fingerprint).first()
            )
            self._known[fingerprint] = None if row is None else UUID(str(row["client"]))
        client = self._known[fingerprint]
        if client is None:
            log.info("forge: refused unknown key %s", fingerprint)
            return False
        self._candidate = client
        self._candidate_key = fingerprint
        return True

    def auth_completed(self) -> None:
        self._client_id = self._candidate
        self._fingerprint = self._candidate_key
        self._ctx.keys.add(self._fingerprint, id(self), self.revoke)

    def session_requested(self) -> GitSession | bool:
        if self._client_id is None or self._revoked:
            return False
        session = GitSession(self._ctx, self._client_id, self._activity, self._fingerprint)
        self._sessions.append(session)
        return session

    # Forwarding of any kind is refused: these are asyncssh's defaults, stated on purpose.
    def connection_requested(self, *_: object) -> bool:
        return False

    def server_requested(self, *_: object) -> bool:
        return False

    def unix_connection_requested(self, *_: object) -> bool:
        return False

    def unix_server_requested(self, *_: object) -> bool:
        return False

    async def _watch_idle(self) -> None:
        timeout = self._ctx.settings.forge.idle_timeout_seconds
        while True:
            idle = self._activity.idle_for()
            if idle >= timeout:
                log.info("forge: closing a connection idle for %.0f s", idle)
                for session in self._sessions:
                    session.say_goodbye(f"! idle for {timeout} s; closing the connection\n")
                if self._sessions:
                    await asyncio.sleep(0.5)  # let the last words leave before the disconnect
                if self._conn is not None:
                    self._conn.close()
                return
            await asyncio.sleep(max(0.05, min(1.0, timeout - idle if idle < timeout else 1.0)))


async def start_server(settings: Settings, builder: Builder | None = None) -> asyncssh.SSHAcceptor:
    """Listen for git over SSH on ``forge.host:forge.port`` (0 picks a free port).

    The database tables must already be bound (:func:`paastech.db.connected`).
    """
    ctx = ForgeContext.create(settings, builder)
    host_key = load_host_key(ctx.forge_dir)
    acceptor = await asyncssh.create_server(
        lambda: ForgeServer(ctx),
        settings.forge.host,
        settings.forge.port,
        server_host_keys=[host_key],
        encoding=None,
        allow_pty=False,
        agent_forwarding=False,
        x11_forwarding=False,
        login_timeout=min(120, settings.forge.idle_timeout_seconds),
        keepalive_interval=0,
    )
    watcher = asyncio.get_running_loop().create_task(_watch_keys(settings, ctx, acceptor))
    _WATCHERS.add(watcher)
    watcher.add_done_callback(_WATCHERS.discard)
    return acceptor


_WATCHERS: set[asyncio.Task[None]] = set()  # strong references: tasks are weakly held


async def _watch_keys(
    settings: Settings, ctx: ForgeContext, acceptor: asyncssh.SSHAcceptor
) -> None:
    """Close connections of deleted keys for as long as the acceptor serves."""
    listener = asyncio.get_running_loop().create_task(KeyWatcher(settings.db, ctx.keys).run())
    try:
        await acceptor.wait_closed()
    finally:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener


async def _recover(builder: NomadBuilder, timeout_seconds: float, started: dt.datetime) -> None:
    """Settle the builds a previous forge left unfinished; retried while Nomad is away.

    It runs beside the listener, so it looks only at builds recorded before ``started``: a
    push that arrives meanwhile queues a build this forge is running, not one it lost.
    """
    reattached: list[asyncio.Task[None]] = []
    while True:
        try:
            reattached = await recover_builds(builder, timeout_seconds, before=started)
            break
        except PaasTechError as exc:
            log.warning("build recovery failed (%s); retrying in %s s", exc.message, RECOVERY_RETRY)
            await asyncio.sleep(RECOVERY_RETRY)
    try:
        await asyncio.gather(*reattached)
    finally:
        for task in reattached:
            task.cancel()


async def serve(settings: Settings, builder: Builder | None = None) -> None:
    """Run the forge until cancelled (connects the database for its lifetime).

    Without an explicit ``builder`` builds run in Nomad (:class:`NomadBuilder`), and the
    builds a previous forge process left unfinished are settled first.
    """
    if builder is not None:
        async with db.connected(settings.db):
            await _serve(settings, builder)
        return
    git = shutil.which("git", path=SAFE_PATH) or "git"
    async with db.connected(settings.db), nomad_builder(settings, git) as nomad:
        started = dt.datetime.now(dt.UTC)
        recovery = asyncio.create_task(_recover(nomad, settings.build.timeout_seconds, started))
        try:
            await _serve(settings, nomad)
        finally:
            recovery.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await recovery


async def _serve(settings: Settings, builder: Builder) -> None:
    acceptor = await start_server(settings, builder)
    removals = asyncio.create_task(
        run_outbox(settings, GitRepoStore.for_state_dir(settings.state_path))
    )
    port = acceptor.sockets[0].getsockname()[1] if acceptor.sockets else settings.forge.port
    log.info(
        "forge listening on %s:%s (git remote: ssh://git@%s:%s/<project>.git)",
        settings.forge.host,
        port,
        settings.forge.public_host,
        port,
    )
    loop = asyncio.get_running_loop()
    # SIGTERM (Nomad stopping the task, systemd) stops accepting and exits cleanly.
    with contextlib.suppress(NotImplementedError):
        loop.add_signal_handler(signal.SIGTERM, acceptor.close)
    try:
        await acceptor.wait_closed()
    finally:
        acceptor.close()
        removals.cancel()
        with contextlib.suppress(NotImplementedError):
            loop.remove_signal_handler(signal.SIGTERM)


def run(settings: Settings) -> None:
    """Entry point for ``paastech-server forge``: serve until interrupted."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(settings))
