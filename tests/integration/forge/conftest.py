"""Real forge fixtures: the asyncssh server on 127.0.0.1:0 with per-test state and rows."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncssh
import httpx
import msgspec
import pytest
from components import NomadAgent, RegistryAuth, require
from forge_harness import Forge, StartForge

from paastech import db
from paastech.forge.builds import Builder
from paastech.forge.nomad_builder import NomadBuilder, nomad_builder
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
            # Build tests: the push ends with the build (deploys are the e2e suite's).
            base = msgspec.structs.replace(
                settings, forge=msgspec.structs.replace(settings.forge, deploy=False)
            )
            changed = {
                name: msgspec.structs.replace(getattr(base, name), **values)
                for name, values in sections.items()
            }
            test_settings = msgspec.structs.replace(base, state_dir=str(state), **changed)
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


@dataclass
class NomadBuilds:
    """A forge whose builds run as real Nomad batch jobs, and what it talks to."""

    forge: Forge
    builder: NomadBuilder
    nomad: httpx.AsyncClient
    registry: RegistryAuth


@pytest.fixture
async def nomad_settings(
    settings: Settings, nomad_agent: NomadAgent, registry_auth: RegistryAuth
) -> Settings:
    """The test settings pointed at the real Nomad agent and the authenticated registry."""
    return msgspec.structs.replace(
        settings,
        nomad=msgspec.structs.replace(
            settings.nomad, address=nomad_agent.address, token=nomad_agent.token
        ),
        registry=msgspec.structs.replace(
            settings.registry,
            address=registry_auth.address,
            username=registry_auth.username,
            password=registry_auth.password,
        ),
        # Build tests: the push ends with the build (deploys are the e2e suite's).
        forge=msgspec.structs.replace(settings.forge, archive_port=0, deploy=False),
        build=msgspec.structs.replace(settings.build, cpu_mhz=200, memory_mb=512),
    )


@pytest.fixture
async def start_nomad_forge(
    start_forge: StartForge,
    nomad_settings: Settings,
    nomad_agent: NomadAgent,
    registry_auth: RegistryAuth,
    base_images: dict[str, str],
) -> AsyncIterator[Callable[..., Coroutine[Any, Any, NomadBuilds]]]:
    """Start forges that build through Nomad (optional build setting overrides)."""
    git = shutil.which("git")
    assert git is not None
    async with contextlib.AsyncExitStack() as stack:
        nomad = await stack.enter_async_context(
            httpx.AsyncClient(base_url=nomad_agent.address, headers=nomad_agent.headers)
        )

        async def start(**build: Any) -> NomadBuilds:
            test_settings = msgspec.structs.replace(
                nomad_settings, build=msgspec.structs.replace(nomad_settings.build, **build)
            )
            builder = await stack.enter_async_context(nomad_builder(test_settings, git))
            forge = await start_forge(
                builder,
                build=build,
                nomad={"address": nomad_agent.address, "token": nomad_agent.token},
                registry={
                    "address": registry_auth.address,
                    "username": registry_auth.username,
                    "password": registry_auth.password,
                },
            )
            return NomadBuilds(forge, builder, nomad, registry_auth)

        yield start
