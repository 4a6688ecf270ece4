"""Fixtures of the end-to-end suite: one platform for the package, users with empty HOMEs.

The platform and its database last as long as ``tests/e2e`` does, not the whole session: its
projects (twenty functions among them) are removed from Nomad when the package ends, so the
suites after it find the node's CPU and memory free for their own jobs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from components import NomadAgent, RegistryAuth
from components import require as fail_missing
from e2e_harness import Platform, Require, Stack, User, start_platform, user_factory
from throwaway import throwaway_database

from paastech.infra.postgres import password_file
from paastech.settings import DbSettings


@pytest.fixture(scope="session")
def require() -> Require:
    """A missing component or program fails the suite (``components.require``)."""
    return fail_missing


@pytest.fixture(scope="package")
def e2e_db(pg_server: DbSettings) -> Iterator[DbSettings]:
    """A database of the platform's own (``paastech-server migrate`` fills it): the other
    suites' rows are never the platform's to deploy, and it is dropped at the end."""
    with throwaway_database(pg_server, "e2e", migrate=False) as settings:
        yield settings


@pytest.fixture(scope="package")
def platform(
    e2e_db: DbSettings,
    state_dir: Path,
    require: Require,
    tmp_path_factory: pytest.TempPathFactory,
    *,
    nomad_agent: NomadAgent,
    registry_auth: RegistryAuth,
    fabio_binary: Path,
) -> Iterator[Platform]:
    """``paastech-server all`` on free loopback ports, against a throwaway migrated database,
    on the real Nomad agent and registry, with a Fabio of its own reading its route feed."""
    running, stop = start_platform(
        e2e_db,
        password_file(state_dir),
        tmp_path_factory.mktemp("platform"),
        require,
        Stack(nomad_agent, registry_auth, fabio_binary),
    )
    yield running
    stop()


@pytest.fixture(scope="package")
def new_user(platform: Platform, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], User]:
    """Make a user with an empty HOME (not signed up yet)."""
    return user_factory(platform, tmp_path_factory)
