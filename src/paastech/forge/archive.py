"""One-time source URLs: how a build job, on whatever node, gets the commit's tree.

The forge issues a URL per build (``<base>/source/<token>``; 256 random bits) and a build
job downloads the tree from it once. The token works for one request and expires after
``build.source_url_ttl_seconds``; an unknown, used or expired token gets the same 404.
The body is ``git archive --format=tar`` of the commit, streamed from git's stdout to the
socket in chunks (never held whole in memory) with the generated Dockerfile added as a
virtual file, and cut off at ``build.source_max_bytes``: the chunked response is then left
unterminated, so the client sees a failed transfer rather than a short tree, and the
forge remembers why (:meth:`ArchiveServer.refusal`) to tell the pusher.

A build job also gets a one-time **done URL** (:meth:`ArchiveServer.issue_done`) that its
script POSTs to as its very last act. The call carries nothing and decides nothing: it only
tells the forge to read the rest of the job's log from Nomad now, rather than when Nomad's
followed log stream passes the last bytes on (it looks for new bytes every 250 ms and sends
them in 200 ms batches, which would add about a third of a second to every build). The
outcome is still read from the log and the digest still checked against the registry.

The listener is deliberately tiny (a GET route and a POST route, HTTP/1.1,
``Connection: close``): it serves nothing but these tokens.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from paastech.forge.context import SAFE_PATH

log = logging.getLogger(__name__)

CHUNK = 64 * 1024
_HEADER_LIMIT = 8 * 1024
_REQUEST_TIMEOUT = 10.0
_PATH_PREFIX = "/source/"
_DONE_PREFIX = "/done/"


@dataclass(frozen=True)
class _Grant:
    repo_path: Path
    commit_sha: str
    dockerfile: str | None
    expires: float
    on_fetch: Callable[[], None] | None = None


class ArchiveServer:
    """Serves each issued source URL once, streaming ``git archive`` with a size cap."""

    def __init__(
        self,
        *,
        git: str,
        host: str,
        port: int,
        max_bytes: int,
        ttl_seconds: float,
        public_url: str = "",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._git = git
        self._host = host
        self._port = port
        self._public_url = public_url.rstrip("/")
        self.max_bytes = max_bytes
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._grants: dict[str, _Grant] = {}
        self._refusals: dict[str, str] = {}
        self._done: dict[str, Callable[[], None]] = {}
        self._server: asyncio.Server | None = None
        self.served = 0

    async def start(self) -> None:
        """Listen on ``host:port`` (0 picks a free port)."""
        self._server = await asyncio.start_server(self._handle, self._host, self._port)

    async def close(self) -> None:
        """Stop listening; requests in flight are cut off."""
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)

    @property
    def base_url(self) -> str:
        """Where build jobs reach this server."""
        if self._public_url:
            return self._public_url
        if self._server is None:
            raise RuntimeError("the archive server is not started")
        host, port = self._server.sockets[0].getsockname()[:2]
        return f"http://{host}:{port}"

    def issue(
        self,
        repo_path: Path,
        commit_sha: str,
        dockerfile: str | None,
        on_fetch: Callable[[], None] | None = None,
    ) -> str:
        """A URL that serves ``commit_sha``'s tree (plus ``dockerfile``) once, for a while.

        ``on_fetch`` is called when the download starts: the job's task is running then.
        """
        self._forget_expired()
        token = secrets.token_urlsafe(32)
        self._grants[token] = _Grant(
            repo_path, commit_sha, dockerfile, self._clock() + self.ttl_seconds, on_fetch
        )
        return f"{self.base_url}{_PATH_PREFIX}{token}"

    def issue_done(self, on_done: Callable[[], None]) -> str:
        """A URL whose first POST calls ``on_done``; it lasts until revoked (a build may run
        longer than a source URL lives)."""
        token = secrets.token_urlsafe(32)
        self._done[token] = on_done
        return f"{self.base_url}{_DONE_PREFIX}{token}"

    def revoke(self, url: str) -> None:
        """Make ``url`` (a source or a done URL) unusable: its build has ended."""
        token = url.rpartition("/")[2]  # random either way: it names one grant at most
        self._grants.pop(token, None)
        self._refusals.pop(token, None)
        self._done.pop(token, None)

    def refusal(self, url: str) -> str:
        """Why serving ``url`` was cut off ("" when it was not)."""
        return self._refusals.get(url.rpartition(_PATH_PREFIX)[2], "")

    def _forget_expired(self) -> None:
        now = self._clock()
        for token in [t for t, g in self._grants.items() if g.expires <= now]:
            del self._grants[token]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(_REQUEST_TIMEOUT):
                head = await reader.readuntil(b"\r\n\r\n")
            await self._answer(head, writer)
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        except (ConnectionError, OSError):
            log.info("source URL: client went away")
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    async def _answer(self, head: bytes, writer: asyncio.StreamWriter) -> None:
        if len(head) > _HEADER_LIMIT:
            await _plain(writer, 431, "request header too large")
            return
        method, _, rest = head.split(b"\r\n", 1)[0].decode("latin-1").partition(" ")
        path = rest.partition(" ")[0]
        if method == "POST" and path.startswith(_DONE_PREFIX):
            on_done = self._done.pop(path.removeprefix(_DONE_PREFIX), None)
            if on_done is None:
                await _plain(writer, 404, "unknown or used done URL")
                return
            on_done()
            await _plain(writer, 200, "ok")
            return
        if method != "GET":
            await _plain(writer, 405, "only GET")
            return
        token = path.removeprefix(_PATH_PREFIX) if path.startswith(_PATH_PREFIX) else ""
        grant = self._grants.pop(token, None)  # once: gone before the first byte is sent
        if grant is None or grant.expires <= self._clock():
            await _plain(writer, 404, "unknown, used or expired source URL")
            return
        self.served += 1
        if grant.on_fetch is not None:
            grant.on_fetch()
        refusal = await self._stream(grant, writer)
        if refusal:
            self._refusals[token] = refusal
            log.warning("source URL for %s cut off: %s", grant.commit_sha[:12], refusal)

    async def _stream(self, grant: _Grant, writer: asyncio.StreamWriter) -> str:
        argv = [self._git, f"--git-dir={grant.repo_path}", "archive", "--format=tar"]
        if grant.dockerfile is not None:
            argv.append(f"--add-virtual-file=Dockerfile:{grant.dockerfile}")
        argv.append(grant.commit_sha)
        proc = await asyncio.create_subprocess_exec(
            *argv,
            env={
                "PATH": SAFE_PATH,
                "GIT_CONFIG_NOSYSTEM": "1",
                "GIT_CONFIG_GLOBAL": "/dev/null",
                "HOME": "/nonexistent",
                "LC_ALL": "C",
            },
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        if proc.stdout is None or proc.stderr is None:  # pragma: no cover - PIPE was asked
            raise RuntimeError("git archive has no pipes")
        sent = 0
        started = False
        try:
            while chunk := await proc.stdout.read(CHUNK):
                if not started:
                    writer.write(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/x-tar\r\n"
                        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                    )
                    started = True
                sent += len(chunk)
                if sent > self.max_bytes:
                    return f"the source tree is larger than {self.max_bytes} bytes"
                writer.write(b"%x\r\n%b\r\n" % (len(chunk), chunk))
                await writer.drain()  # backpressure: git waits for a slow client
            error = (await proc.stderr.read()).decode(errors="replace").strip()
            if await proc.wait() != 0:
                if not started:
                    await _plain(writer, 500, "cannot export the commit")
                return f"git archive failed: {error}"
            writer.write(b"0\r\n\r\n")
            await writer.drain()
            return ""
        finally:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()


async def _plain(writer: asyncio.StreamWriter, status: int, text: str) -> None:
    reasons = {
        200: "OK",
        404: "Not Found",
        405: "Method Not Allowed",
        431: "Too Large",
        500: "Error",
    }
    body = text.encode() + b"\n"
    writer.write(
        f"HTTP/1.1 {status} {reasons.get(status, 'Error')}\r\nContent-Type: text/plain\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        + body
    )
    await writer.drain()
