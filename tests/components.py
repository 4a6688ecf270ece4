"""The rule for real components in tests: a missing one is a test failure, never a skip."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import pytest

from paastech.errors import PaasTechError
from paastech.infra import nomad as nomad_infra
from paastech.infra.process import Running, stop_pidfile
from paastech.scheduler.registry import RegistryApi
from paastech.settings import RegistrySettings, load_settings


def require(component: str, reason: str) -> NoReturn:
    """Fail the test because ``component`` cannot be provided, saying why.

    Integration and end-to-end tests run against the real thing or not at all: a skip would
    turn a broken machine into a green run.
    """
    pytest.fail(f"{component} unavailable: {reason}")


@dataclass(frozen=True)
class RegistryAuth:
    """The authenticated image registry: where it is and the platform's credentials."""

    address: str
    username: str
    password: str
    docker_config: Path
    """A ``DOCKER_CONFIG`` directory whose config.json logs the docker CLI in."""

    def docker_env(self) -> dict[str, str]:
        """The environment for a docker CLI that pushes and pulls as the platform."""
        return {**os.environ, "DOCKER_CONFIG": str(self.docker_config)}

    def api(self) -> RegistryApi:
        """The platform's client of the registry's API, with these credentials."""
        settings = RegistrySettings(
            address=self.address, username=self.username, password=self.password
        )
        return RegistryApi(settings)


async def registry_images(api: RegistryApi) -> dict[str, dict[str, str]]:
    """Every tag in the registry: repository → tag → manifest digest."""
    images = {
        repository: await api.manifests(repository) for repository in await api.repositories()
    }
    return {repository: tags for repository, tags in images.items() if tags}


async def remove_images_since(api: RegistryApi, before: dict[str, dict[str, str]]) -> int:
    """Delete the images tagged since ``before`` (:func:`registry_images`), leaving every
    manifest a tag of ``before`` still points at; how many manifests were deleted. A test run
    against the dev stack's registry leaves it as it found it."""
    deleted = 0
    for repository, tags in (await registry_images(api)).items():
        kept = set(before.get(repository, {}).values())
        for digest in {d for t, d in tags.items() if t not in before.get(repository, {})} - kept:
            await api.delete_manifest(repository, digest)
            deleted += 1
    return deleted


def local_tags(address: str) -> set[str]:
    """The docker daemon's own tags of images named after the registry (``address/repo:tag``):
    what build jobs and pushing tests leave on the machine besides the registry's copy."""
    listed = subprocess.run(
        ["docker", "images", "--format", "{{.Repository}}:{{.Tag}}"],
        capture_output=True,
        text=True,
        check=False,
    )
    return {tag for tag in listed.stdout.split() if tag.startswith(f"{address}/")}


def remove_local_tags_since(address: str, before: set[str]) -> None:
    """Untag (and so remove, when nothing else holds them) the images tagged since ``before``;
    the layers other images share stay."""
    new = sorted(local_tags(address) - before)
    for start in range(0, len(new), 50):
        batch = new[start : start + 50]
        subprocess.run(["docker", "rmi", "-f", *batch], capture_output=True, check=False)


@dataclass
class NomadAgent:
    """The Nomad v1.6.5 dev agent (ACLs on) and its management token."""

    address: str
    token: str
    state_dir: Path
    docker_auth: Path
    _running: Running | None = field(default=None, repr=False)

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Nomad-Token": self.token}

    def start(self) -> None:
        """Make sure the agent answers (starting it again after :meth:`stop`)."""
        settings = load_settings(dict(os.environ)).nomad
        try:
            running = nomad_infra.ensure_nomad_agent(
                self.state_dir, settings, dict(os.environ), docker_auth=self.docker_auth
            )
        except PaasTechError as exc:
            require("nomad", str(exc))
        if running.started_here:
            self._running = running

    def stop_if_started_here(self) -> None:
        """Stop the agent when this test session started it (the session's cleanup)."""
        if self._running is not None:
            self._running.stop()
            self._running = None

    def stop(self) -> None:
        """Stop the agent, whoever started it (its jobs are gone: it is a ``-dev`` agent)."""
        if self._running is not None:
            self._running.stop()
            self._running = None
        else:
            stop_pidfile(self.state_dir, "nomad", timeout=30)
