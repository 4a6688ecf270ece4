"""Scheduler read-side fixtures: a tiny app image in the authenticated registry, app jobs
rendered by the real jobspec and run by the real Nomad dev agent, the platform's adapter."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import msgspec
import pytest
from app_harness import AppImage, AppJobs
from components import NomadAgent, RegistryAuth

from paastech.scheduler.nomad import NomadApi
from paastech.settings import Settings

#: Says which release it is on stdout, then serves /srv (each request is logged to stderr).
_START = """\
#!/bin/sh
echo "started $PAASTECH_RELEASE"
exec python3 -u -m http.server "$PORT" --bind "$HOST"
"""
_DOCKERFILE = """\
FROM {base}
COPY start.sh /start.sh
RUN chmod +x /start.sh && mkdir -p /srv && echo "hello from {tag}" > /srv/index.html
WORKDIR /srv
CMD ["/start.sh"]
"""


@pytest.fixture(scope="session")
def app_image(
    base_images: dict[str, str],
    registry_auth: RegistryAuth,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[AppImage]:
    """A small web app built from ``paastech/python`` and pushed (by digest) to the registry."""
    tag = uuid.uuid4().hex[:8]
    context: Path = tmp_path_factory.mktemp("app")
    (context / "start.sh").write_text(_START)
    (context / "Dockerfile").write_text(_DOCKERFILE.format(base=base_images["python"], tag=tag))
    repo = f"{registry_auth.address}/paastech-test/runtime-{tag}"
    env = {**registry_auth.docker_env(), "DOCKER_BUILDKIT": "0"}

    def docker(*args: str) -> str:
        done = subprocess.run(
            ["docker", *args], capture_output=True, text=True, timeout=300, check=False, env=env
        )
        assert done.returncode == 0, f"docker {args[0]}: {done.stdout}{done.stderr}"
        return done.stdout

    docker("build", "--network", "host", "-q", "-t", f"{repo}:v1", str(context))
    docker("push", f"{repo}:v1")
    digest = docker("inspect", "--format", "{{index .RepoDigests 0}}", f"{repo}:v1").strip()
    yield AppImage(repo=repo, digest=digest.rpartition("@")[2], marker=f"hello from {tag}")
    subprocess.run(["docker", "rmi", "-f", f"{repo}:v1"], capture_output=True, check=False)
    _delete_manifest(registry_auth, repo, digest.rpartition("@")[2])


def _delete_manifest(auth: RegistryAuth, repo: str, digest: str) -> None:
    """Test runs leave no tag behind in the dev stack's registry (best effort: a registry
    without delete enabled answers 405, which changes nothing for the next run)."""
    name = repo.partition("/")[2]
    httpx.delete(
        f"http://{auth.address}/v2/{name}/manifests/{digest}",
        auth=(auth.username, auth.password),
        timeout=10,
    )


@pytest.fixture
def nomad_settings(settings: Settings, nomad_agent: NomadAgent) -> Settings:
    """The test settings pointed at the dev agent with its management token."""
    nomad = msgspec.structs.replace(
        settings.nomad, address=nomad_agent.address, token=nomad_agent.token
    )
    return msgspec.structs.replace(settings, nomad=nomad)


@pytest.fixture
async def nomad_api(nomad_settings: Settings) -> AsyncIterator[NomadApi]:
    api = NomadApi(nomad_settings.nomad)
    yield api
    await api.aclose()


@pytest.fixture
def app_jobs(nomad_agent: NomadAgent, app_image: AppImage) -> Iterator[AppJobs]:
    """Registers app jobs (``paastech-<project>``) and purges every one at the end."""
    with httpx.Client(base_url=nomad_agent.address, headers=nomad_agent.headers, timeout=30) as c:
        jobs = AppJobs(c, app_image)
        yield jobs
        jobs.purge_all()


@pytest.fixture
def project_name() -> Callable[[str], str]:
    """A fresh project name per call (jobs of an earlier, killed run cannot collide)."""
    run = uuid.uuid4().hex[:6]
    return lambda stem: f"{stem}-{run}"
