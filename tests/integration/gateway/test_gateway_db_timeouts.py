"""A black-holed PostgreSQL gives 503s within the db timeouts, never a hung request (#15)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import msgspec
from gateway_harness import PASSWORD, PROBLEM, serving, signup_login

from paastech.services import Services
from paastech.settings import Settings

V1 = "/api/v1"
HANG_GUARD = 60  # far above the timeouts below: only a request that hangs reaches it


@dataclass
class BlackHole:
    """A TCP relay to PostgreSQL that can start swallowing every byte, both ways."""

    upstream: tuple[str, int]
    swallowing: bool = False
    port: int = 0
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.CancelledError):
            while data := await reader.read(65536):
                if not self.swallowing:
                    writer.write(data)
                    await writer.drain()
        writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.swallowing:  # a new connection is accepted and never answered
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while await reader.read(65536):
                    pass
            return
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        for pipe in (self._pipe(reader, up_writer), self._pipe(up_reader, writer)):
            task = asyncio.get_running_loop().create_task(pipe)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[BlackHole]:
        server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        try:
            yield self
        finally:
            server.close()
            for task in list(self._tasks):
                task.cancel()


async def test_an_unreachable_database_answers_503_within_the_timeouts(
    settings: Settings, clean_db: object
) -> None:
    """Reads, writes and logins answer 503 problems once PostgreSQL stops answering."""
    async with BlackHole((settings.db.host, settings.db.port)).running() as hole:
        db = msgspec.structs.replace(
            settings.db,
            port=hole.port,
            connect_timeout_seconds=1.0,
            command_timeout_seconds=1.0,
            pool_acquire_timeout_seconds=1.0,
        )
        proxied = msgspec.structs.replace(settings, db=db)
        async with serving(proxied, Services()) as (client, _core):
            who = await signup_login(client, "ada@example.com")
            assert (await client.get(f"{V1}/projects", headers=who)).status_code == 200
            hole.swallowing = True
            calls = [
                client.get(f"{V1}/projects", headers=who),
                client.post(f"{V1}/projects", json={"name": "web"}, headers=who),
                client.post(
                    f"{V1}/auth/login", json={"email": "ada@example.com", "password": PASSWORD}
                ),
            ]
            for call in calls:
                r = await asyncio.wait_for(call, HANG_GUARD)
                assert r.status_code == 503, r.text
                assert r.headers["content-type"].startswith(PROBLEM)
                assert "timeout" not in r.text.lower()  # no internals in the body
            hole.swallowing = False
