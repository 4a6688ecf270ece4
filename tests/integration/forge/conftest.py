"""Real forge fixtures: the asyncssh server on 127.0.0.1:0 with per-test state and rows."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncssh
import msgspec
import pytest
from components import require
from forge_harness import Forge, StartForge

from paastech import db
from paastech.forge.builds import Builder
from paastech.forge.repos import GitRepoStore
from paastech.forge.server import start_server
from paastech.settings import Settings


@pytest.fixture
async def start_forge(
    settings: Settings, clean_db: object, tmp_path: Path
) -> AsyncIterator[StartForge]:
    """Start forges on 127.0.0.1:0 with per-test state (and optional setting overrides)."""
    if shutil.which("git") is None or shutil.which("ssh") is None:
        require("git/ssh clients", "not installed")
    acceptors: list[asyncssh.SSHAcceptor] = []
    async with db.connected(settings.db):

        async def start(builder: Builder | None = None, **sections: dict[str, Any]) -> Forge:
            state = tmp_path / f"state-{len(acceptors)}"
            changed = {
                name: msgspec.structs.replace(getattr(settings, name), **values)
                for name, values in sections.items()
            }
            test_settings = msgspec.structs.replace(settings, state_dir=str(state), **changed)
            acceptor = await start_server(test_settings, builder)
            acceptors.append(acceptor)
            port = acceptor.sockets[0].getsockname()[1]
            return Forge(test_settings, port, tmp_path, GitRepoStore.for_state_dir(state))

        try:
            yield start
        finally:
            for acceptor in acceptors:
                acceptor.close()
                await acceptor.wait_closed()


@pytest.fixture
async def forge(start_forge: StartForge) -> Forge:
    """A forge with the default settings (builds enabled, the honest unavailable builder)."""
    return await start_forge()
