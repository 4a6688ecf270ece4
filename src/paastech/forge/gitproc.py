"""Run the real ``git receive-pack``/``git upload-pack`` on a bare repo, piped to a channel.

The process gets a scrubbed environment and command-line config that make the repository
inert: no system or global git config is read, ``core.hooksPath`` is an empty directory
the platform owns (so no hook ever runs, whatever is in the repository), and incoming
objects are fsck'ed. ``receive.maxInputSize`` makes git itself refuse an oversized pack
while it is still quarantined, so a refused push leaves the repository as it was.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from paastech.forge.commands import Service
from paastech.forge.context import SAFE_PATH, ForgeContext

_CHUNK = 64 * 1024
# Bytes of ref-update commands that may come with a pack, beyond the pack-size limit,
# before the forge stops listening (git's own limit is the real one; this is a backstop).
_COMMAND_SLACK = 1024 * 1024
_GIT_PROTOCOL = re.compile(r"version=[012]")


class ChannelIO(Protocol):
    """The client side of a git service: the SSH channel's three streams."""

    async def read(self) -> bytes:
        """Next chunk from the client; ``b""`` at end of input."""
        ...

    async def write(self, data: bytes) -> None: ...

    async def write_stderr(self, data: bytes) -> None: ...


@dataclass(frozen=True)
class GitRun:
    """How a git service process ended."""

    status: int
    received: int
    overflowed: bool


def git_argv(
    ctx: ForgeContext, service: Service, repo: Path, max_input: int | None = None
) -> list[str]:
    """The command line of ``service`` on ``repo``, with the platform's safety config."""
    config = [
        f"core.hooksPath={ctx.hooks_dir}",
        "transfer.fsckObjects=true",
        "receive.advertisePushOptions=false",
        "uploadpack.allowFilter=false",
    ]
    if max_input is not None:
        config.append(f"receive.maxInputSize={max_input}")
    argv = [ctx.git]
    for item in config:
        argv += ["-c", item]
    return [*argv, service.git_subcommand, str(repo)]


def git_env(ctx: ForgeContext, client_env: Mapping[str, str]) -> dict[str, str]:
    """A minimal environment; only a well-formed ``GIT_PROTOCOL`` passes from the client."""
    env = {
        "PATH": SAFE_PATH,
        "HOME": str(ctx.home_dir),
        "LC_ALL": "C",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_TERMINAL_PROMPT": "0",
    }
    protocol = client_env.get("GIT_PROTOCOL", "")
    if _GIT_PROTOCOL.fullmatch(protocol):
        env["GIT_PROTOCOL"] = protocol
    return env


async def run_git(
    io: ChannelIO,
    argv: list[str],
    env: dict[str, str],
    *,
    stdout_filter: Callable[[bytes], bytes] | None = None,
    max_input: int | None = None,
) -> GitRun:
    """Run ``argv`` with the channel as its stdin/stdout/stderr until it exits.

    Args:
        io: The client's streams.
        argv: The git command line (from :func:`git_argv`).
        env: Its environment (from :func:`git_env`).
        stdout_filter: Sees every stdout chunk and returns what to forward.
        max_input: Stop forwarding client input after this many bytes (plus slack for ref
            commands) and terminate the process.
    """
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        start_new_session=True,
    )
    pipe = _Pipe(proc, io, stdout_filter, max_input)
    feeder = asyncio.create_task(pipe.pump_in())
    try:
        await asyncio.gather(pipe.pump_out(), pipe.pump_err())
        status = await proc.wait()
    finally:
        feeder.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await feeder
        if proc.returncode is None:
            pipe.terminate()
            await proc.wait()
    return GitRun(status=status, received=pipe.received, overflowed=pipe.overflowed)


@dataclass
class _Pipe:
    """The three byte pumps between a git process and the channel."""

    proc: asyncio.subprocess.Process
    io: ChannelIO
    stdout_filter: Callable[[bytes], bytes] | None
    max_input: int | None
    received: int = 0
    overflowed: bool = False

    def terminate(self) -> None:
        # TERM, not KILL: git removes its object quarantine on the way out.
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signal.SIGTERM)

    async def pump_in(self) -> None:
        stdin = self.proc.stdin
        if stdin is None:
            return
        stdin_open = True
        while data := await self.io.read():
            self.received += len(data)
            limit = self.max_input
            if limit is not None and self.received > limit + _COMMAND_SLACK and stdin_open:
                self.overflowed = True
                self.terminate()
                stdin_open = False
            if stdin_open:
                try:
                    stdin.write(data)
                    await stdin.drain()
                except (BrokenPipeError, ConnectionResetError):
                    stdin_open = False  # git stopped reading; keep counting, discard
        if stdin_open:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                stdin.close()

    async def pump_out(self) -> None:
        stdout = self.proc.stdout
        if stdout is None:
            return
        while data := await stdout.read(_CHUNK):
            out = self.stdout_filter(data) if self.stdout_filter else data
            if out:
                await self.io.write(out)

    async def pump_err(self) -> None:
        stderr = self.proc.stderr
        if stderr is None:
            return
        while data := await stderr.read(_CHUNK):
            await self.io.write_stderr(data)
