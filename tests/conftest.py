"""Shared harness: real components for integration tests, started once per session.

A component that cannot be provided fails the test (``components.require``), never a skip.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import msgspec
import pytest
from components import (
    NomadAgent,
    RegistryAuth,
    local_tags,
    registry_images,
    remove_images_since,
    remove_local_tags_since,
    require,
)
from throwaway import throwaway_database

from paastech.db.tables import TABLES
from paastech.errors import PaasTechError
from paastech.infra import nomad as nomad_infra
from paastech.infra import registry as registry_infra
from paastech.infra.binaries import ensure_fabio_binary
from paastech.infra.docker import ensure_docker
from paastech.infra.images import ensure_images
from paastech.infra.postgres import ensure_postgres, password_file
from paastech.settings import DbSettings, Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent
STATE_DIR = ROOT / ".paastech"


@pytest.fixture(scope="session")
def state_dir() -> Path:
    STATE_DIR.mkdir(exist_ok=True)
    return STATE_DIR


@pytest.fixture(scope="session")
def pg_server(state_dir: Path) -> Iterator[DbSettings]:
    """The private PostgreSQL cluster (started if needed), as the superuser's settings."""
    base = load_settings({}).db
    try:
        running = ensure_postgres(state_dir, base)
    except PaasTechError as exc:
        require("postgres", str(exc))
    settings = load_settings({"PAASTECH_DB__PASSWORD_FILE": str(password_file(state_dir))})
    yield settings.db
    running.stop()


@pytest.fixture(scope="session")
def test_db(pg_server: DbSettings) -> Iterator[DbSettings]:
    """A throwaway database for this test session, migrated."""
    with throwaway_database(pg_server, "test") as settings:
        yield settings


@pytest.fixture(scope="session")
def settings(
    test_db: DbSettings, state_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    """Settings for a test session: the throwaway database, a private state dir, port 0."""
    base = load_settings({})
    test_state = tmp_path_factory.mktemp("state")
    return msgspec.structs.replace(
        base,
        state_dir=str(test_state),
        db=test_db,
        gateway=msgspec.structs.replace(base.gateway, port=0),
        forge=msgspec.structs.replace(base.forge, port=0),
        secrets=msgspec.structs.replace(
            base.secrets, env_key="q3v0m8cJ0y6X1nVw2p7H4sD9fK5tL8bR3eA6uN1zQ0c="
        ),
    )


@pytest.fixture
async def clean_db(test_db: DbSettings) -> DbSettings:
    """Empty every table before the test (the schema stays)."""
    conn = await asyncpg.connect(test_db.dsn())
    try:
        names = ", ".join(t._meta.tablename for t in TABLES)
        await conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    finally:
        await conn.close()
    return test_db


# --- Real infrastructure beyond PostgreSQL (provisioned by paastech.infra) -----------------


@pytest.fixture(scope="session")
def docker_daemon(state_dir: Path) -> Iterator[str]:
    """A Docker daemon answering on /var/run/docker.sock (dockerd started if none answers)."""
    try:
        running = ensure_docker(state_dir, dict(os.environ))
    except PaasTechError as exc:
        require("docker", str(exc))
    yield running.url
    running.stop()


@pytest.fixture(scope="session")
def base_images(docker_daemon: str) -> dict[str, str]:
    """``paastech/base``, ``paastech/python`` and ``paastech/node``: name → reference."""
    try:
        results = ensure_images(dict(os.environ))
    except PaasTechError as exc:
        require("base images", str(exc))
    return {r.name: r.reference for r in results}


@pytest.fixture(scope="session")
def registry_auth(state_dir: Path, docker_daemon: str) -> Iterator[RegistryAuth]:
    """The image registry (127.0.0.1:5000 by default, started if needed), htpasswd auth on.

    The session leaves the registry, and the docker daemon's tags named after it, as it found
    them (the daemon outlives this fixture, so its tags can still be read at the end)."""
    settings = load_settings(dict(os.environ)).registry
    try:
        running = registry_infra.ensure_registry(state_dir, settings, dict(os.environ))
    except PaasTechError as exc:
        require("registry", str(exc))
    user, password = registry_infra.credentials(state_dir, settings)
    config = registry_infra.docker_auth_path(state_dir)
    auth = RegistryAuth(settings.address, user, password, config.parent)
    before = asyncio.run(registry_images(auth.api()))
    tagged = local_tags(settings.address)
    yield auth
    # Builds push images the tests never deploy, or deploy in a project they never delete.
    asyncio.run(remove_images_since(auth.api(), before))
    remove_local_tags_since(settings.address, tagged)
    running.stop()


@pytest.fixture(scope="session")
def image_registry(registry_auth: RegistryAuth) -> str:
    """The registry's host:port (push and pull with ``registry_auth.docker_env()``)."""
    return registry_auth.address


@pytest.fixture(scope="session")
def nomad_agent(
    state_dir: Path, docker_daemon: str, registry_auth: RegistryAuth
) -> Iterator[NomadAgent]:
    """``nomad agent -dev`` on 127.0.0.1:4646 with ACLs, docker and raw_exec (started if
    needed; the binary is found or built from ../shared/nomad once and cached)."""
    agent = NomadAgent(
        load_settings(dict(os.environ)).nomad.address,
        nomad_infra.management_token(state_dir),
        state_dir,
        registry_infra.docker_auth_path(state_dir),
    )
    agent.start()
    yield agent
    agent.stop_if_started_here()


@pytest.fixture(scope="session")
def fabio_binary() -> Path:
    """The Fabio binary (built once per machine into ~/.cache/paastech/bin)."""
    try:
        return ensure_fabio_binary(load_settings({}).fabio.version, dict(os.environ))
    except PaasTechError as exc:
        require("fabio", str(exc))
        raise
