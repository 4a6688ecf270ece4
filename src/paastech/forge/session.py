"""One SSH session channel: run exactly one git service, or refuse in one line.

The channel is binary and never has a PTY. Shells, subsystems (``sftp``, which modern
``scp`` uses too) and every command but the two git services are accepted at the SSH level
only to be answered with a single ``!``-prefixed line on stderr and exit status 1, so the
person at the terminal reads why. A refusal happens before anything touches the disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from uuid import UUID

import asyncssh

from paastech.db.tables import Project, SshKey
from paastech.errors import (
    InvalidInput,
    NotFound,
    PaasTechError,
    PayloadTooLarge,
    PermissionDenied,
)
from paastech.forge import gitproc
from paastech.forge.commands import GitCommand, Service, parse_command
from paastech.forge.context import Activity, ForgeContext
from paastech.forge.pktline import PROGRESS_BAND, ReceivePackOutput, band_packets
from paastech.forge.progress import Progress
from paastech.forge.push import after_push, ref_changes
from paastech.forge.repos import directory_size, ref_targets

log = logging.getLogger(__name__)

_HIGH_WATER = 1024 * 1024
_LOW_WATER = 256 * 1024


class GitSession(asyncssh.SSHServerSession[bytes]):
    """The handler of one session channel of an authenticated client."""

    def __init__(
        self, ctx: ForgeContext, client_id: UUID, activity: Activity, fingerprint: str = ""
    ) -> None:
        self._ctx = ctx
        self._client_id = client_id
        self._fingerprint = fingerprint
        self._activity = activity
        self._chan: asyncssh.SSHServerChannel[bytes] | None = None
        self._command: str | None = None
        self._subsystem: str | None = None
        self._inbox: asyncio.Queue[bytes] = asyncio.Queue()
        self._buffered = 0
        self._reading_paused = False
        self._writable = asyncio.Event()
        self._writable.set()
        self._closed = False
        self._task: asyncio.Task[None] | None = None

    # -- asyncssh callbacks -------------------------------------------------------------

    def connection_made(self, chan: asyncssh.SSHServerChannel[bytes]) -> None:
        self._chan = chan

    def pty_requested(self, *_: object) -> bool:
        return False

    def shell_requested(self) -> bool:
        return True

    def exec_requested(self, command: str) -> bool:
        self._command = command
        return True

    def subsystem_requested(self, subsystem: str) -> bool:
        self._subsystem = subsystem
        return True

    def session_started(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    def data_received(self, data: bytes, datatype: int | None) -> None:
        self._activity.touch()
        self._inbox.put_nowait(bytes(data))
        self._buffered += len(data)
        if self._buffered > _HIGH_WATER and self._chan is not None and not self._reading_paused:
            self._reading_paused = True
            self._chan.pause_reading()

    def eof_received(self) -> bool:
        self._inbox.put_nowait(b"")
        return True  # stay half-open: the answer still has to go out

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._writable.set()
        self._inbox.put_nowait(b"")

    def say_goodbye(self, line: str) -> None:
        """Best-effort last words before the server closes the connection under us."""
        if self._chan is not None and not self._closed:
            with contextlib.suppress(asyncssh.Error, OSError):
                self._chan.write_stderr(line.encode())
                self._chan.exit(1)
            self._closed = True

    # -- ChannelIO ------------------------------------------------------------------------

    async def read(self) -> bytes:
        data = await self._inbox.get()
        self._buffered -= len(data)
        if self._reading_paused and self._buffered < _LOW_WATER and self._chan is not None:
            self._reading_paused = False
            self._chan.resume_reading()
        return data

    async def write(self, data: bytes) -> None:
        await self._send(data, stderr=False)

    async def write_stderr(self, data: bytes) -> None:
        await self._send(data, stderr=True)

    async def _send(self, data: bytes, *, stderr: bool) -> None:
        if self._closed or self._chan is None:
            return  # the client hung up; the work goes on, the words are dropped
        await self._writable.wait()
        if self._closed:
            return
        self._activity.touch()
        try:
            if stderr:
                self._chan.write_stderr(data)
            else:
                self._chan.write(data)
        except (asyncssh.Error, BrokenPipeError, OSError):
            self._closed = True

    # -- the session ------------------------------------------------------------------------

    async def _run(self) -> None:
        status = 1
        try:
            status = await self._serve()
        except PaasTechError as exc:
            await self.write_stderr(f"! {exc.message}\n".encode())
        except Exception:
            log.exception("forge session of client %s failed", self._client_id)
            await self.write_stderr(b"! internal error in the forge; please retry\n")
        finally:
            if self._chan is not None and not self._closed:
                self._chan.exit(status)

    async def _serve(self) -> int:
        # Per session, not per connection: a key deleted since the connection authenticated
        # serves nothing more, even if the deletion's NOTIFY was missed.
        if not await SshKey.exists().where(SshKey.fingerprint == self._fingerprint):
            raise PermissionDenied("your SSH key was removed; add it again to push")
        if self._subsystem is not None:
            raise InvalidInput("subsystems (sftp, scp) are not available; use git push")
        if self._command is None:
            raise InvalidInput("interactive shells are not available; use git push and git clone")
        command = parse_command(self._command)
        project_id = await self._owned_project(command.project)
        if command.service is Service.UPLOAD_PACK:
            return await self._upload(command, project_id)
        return await self._receive(command, project_id)

    async def _owned_project(self, name: str) -> UUID:
        row = (
            await Project.select(Project.id)
            .where((Project.name == name) & (Project.client == self._client_id))
            .first()
        )
        if row is None:
            # The same answer whether it does not exist or belongs to someone else.
            raise NotFound("not found")
        return UUID(str(row["id"]))

    def _peer_ip(self) -> str:
        """The pusher's address (for the audit log), as the SSH connection saw it."""
        peer = self._chan.get_extra_info("peername") if self._chan is not None else None
        return str(peer[0]) if peer else ""

    def _ensure_repo(self, project_id: UUID) -> None:
        # The gateway creates the repo with the project; a missing one (restored database,
        # lost volume) is recreated empty rather than failing every push forever.
        if not self._ctx.repos.exists(project_id):
            self._ctx.repos.create(project_id)

    async def _upload(self, command: GitCommand, project_id: UUID) -> int:
        self._ensure_repo(project_id)
        argv = gitproc.git_argv(self._ctx, command.service, self._ctx.repos.path(project_id))
        env = gitproc.git_env(self._ctx, self._client_env())
        run = await gitproc.run_git(self, argv, env)
        return run.status

    async def _receive(self, command: GitCommand, project_id: UUID) -> int:
        ctx = self._ctx
        limits = ctx.settings.forge
        self._ensure_repo(project_id)
        repo = ctx.repos.path(project_id)
        lock = ctx.push_lock(project_id)
        if lock.locked():
            await self.write_stderr(f"waiting for another push to {command.project}...\n".encode())
        async with lock:
            used = await asyncio.to_thread(directory_size, repo)
            room = limits.max_repo_bytes - used
            if room <= 0:
                raise PayloadTooLarge(
                    f"repository is full ({used} of {limits.max_repo_bytes} bytes);"
                    " nothing more can be pushed"
                )
            max_input = min(limits.max_pack_bytes, room)
            before = await asyncio.to_thread(ref_targets, repo)
            output = ReceivePackOutput()
            argv = gitproc.git_argv(ctx, command.service, repo, max_input=max_input)
            env = gitproc.git_env(ctx, self._client_env())
            run = await gitproc.run_git(
                self, argv, env, stdout_filter=output.feed, max_input=max_input
            )
            after = await asyncio.to_thread(ref_targets, repo)
        changes = ref_changes(before, after)

        async def sink(data: bytes) -> None:
            if output.sideband:
                await self.write(band_packets(PROGRESS_BAND, data))
            else:
                await self.write_stderr(data)

        progress = Progress(sink)
        status = run.status
        try:
            if not changes and (run.overflowed or run.received > max_input):
                which = (
                    f"the pack-size limit of {limits.max_pack_bytes} bytes"
                    if max_input == limits.max_pack_bytes
                    else f"the {room} bytes left under the repository limit"
                    f" of {limits.max_repo_bytes} bytes"
                )
                await progress.fail(f"push refused: {run.received} bytes is more than {which}")
                status = status or 1
            elif changes:
                with self._activity.building():
                    build_status = await after_push(
                        ctx,
                        project_id=project_id,
                        project=command.project,
                        client_id=self._client_id,
                        client_ip=self._peer_ip(),
                        changes=changes,
                        progress=progress,
                    )
                status = status or build_status
        except PaasTechError as exc:
            # The refs are stored either way; say what failed after them, on the sideband.
            await progress.fail(exc.message)
            status = 1
        finally:
            # The flush that ends the push's sideband is owed whatever happened above.
            await self.write(output.finish())
        return status

    def _client_env(self) -> dict[str, str]:
        if self._chan is None:
            return {}
        return {str(k): str(v) for k, v in self._chan.get_environment().items()}
