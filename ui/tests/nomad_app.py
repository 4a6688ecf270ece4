"""A running app for the browser tests: the real Nomad dev agent runs a small web app as the
platform would (the job rendered by the scheduler's jobspec), from the authenticated registry.

Every component is the real one, provisioned as the main suite does; a missing one fails
the test (``conftest.require``). Each helper that starts something returns its cleanup.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import msgspec
from conftest import require
from paastech.errors import PaasTechError
from paastech.infra import nomad as nomad_infra
from paastech.infra import registry as registry_infra
from paastech.infra.docker import ensure_docker
from paastech.infra.images import ensure_images
from paastech.scheduler.jobspec import ReleaseSpec, job_id, to_api
from paastech.settings import load_settings
from processes import ROOT

STATE = ROOT / ".paastech"
DOCKER = shutil.which("docker") or "docker"
#: Says which release it runs on stdout, then logs each request on stderr.
START = 'echo "started $PAASTECH_RELEASE"; exec python3 -u -m http.server "$PORT" --bind "$HOST"'
Cleanup = Callable[[], None]


@dataclass(frozen=True)
class NomadStack:
    address: str
    token: str
    token_file: str
    image: str
    digest: str


def provision() -> tuple[NomadStack, Cleanup]:
    """Docker, the registry, the base images and the Nomad agent; an app image pushed."""
    environ = dict(os.environ)
    settings = load_settings(environ)
    started: list[Any] = []
    try:
        started.append(ensure_docker(STATE, environ))
        started.append(registry_infra.ensure_registry(STATE, settings.registry, environ))
        python = next(i.reference for i in ensure_images(environ) if i.name == "python")
        auth = registry_infra.docker_auth_path(STATE)
        started.append(
            nomad_infra.ensure_nomad_agent(STATE, settings.nomad, environ, docker_auth=auth)
        )
    except PaasTechError as exc:
        for running in reversed(started):
            running.stop()
        require("nomad stack", str(exc))
    repo = f"{settings.registry.address}/paastech-test/ui-{uuid.uuid4().hex[:8]}"
    docker_env = {**environ, "DOCKER_CONFIG": str(auth.parent)}
    for args in (["tag", python, f"{repo}:v1"], ["push", f"{repo}:v1"]):
        done = subprocess.run(
            [DOCKER, *args], capture_output=True, text=True, env=docker_env, check=False
        )
        assert done.returncode == 0, done.stderr
    ref = subprocess.run(
        [DOCKER, "inspect", "--format", "{{index .RepoDigests 0}}", f"{repo}:v1"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    token_file = nomad_infra.token_path(STATE)
    stack = NomadStack(
        address=settings.nomad.address,
        token=nomad_infra.management_token(STATE),
        token_file=str(token_file),
        image=repo,
        digest=ref.rpartition("@")[2],
    )

    def cleanup() -> None:
        subprocess.run([DOCKER, "rmi", "-f", f"{repo}:v1"], capture_output=True, check=False)
        user, password = registry_infra.credentials(STATE, settings.registry)
        httpx.delete(
            f"http://{settings.registry.address}/v2/{repo.partition('/')[2]}/manifests/"
            f"{stack.digest}",
            auth=(user, password),
            timeout=10,
        )
        for running in reversed(started):
            if running.started_here:
                running.stop()

    return stack, cleanup


def run_app(stack: NomadStack, project: str, version: int = 1) -> tuple[str, Cleanup]:
    """Run ``project``'s release ``version`` as its Nomad job, wait until its check passes;
    the ``ip:port`` it answers at, and the cleanup that purges the job."""
    spec = ReleaseSpec(
        project=project, version=version, image=stack.image, digest=stack.digest, memory=96
    )
    body: dict[str, Any] = to_api(spec)
    body["Job"]["TaskGroups"][0]["Tasks"][0]["Config"].update(command="/bin/sh", args=["-c", START])
    job = job_id(project)
    headers = {"X-Nomad-Token": stack.token}
    with httpx.Client(base_url=stack.address, headers=headers, timeout=30) as nomad:
        answer = nomad.post("/v1/jobs", content=msgspec.json.encode(body))
        assert answer.status_code == 200, answer.text

        def purge() -> None:
            with httpx.Client(base_url=stack.address, headers=headers, timeout=30) as c:
                c.delete(f"/v1/job/{job}", params={"purge": "true"})

        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            for reg in nomad.get(f"/v1/service/{job}").json():
                checks = nomad.get(f"/v1/allocation/{reg['AllocID']}/checks").json()
                if checks and all(c["Status"] == "success" for c in checks.values()):
                    return f"{reg['Address']}:{reg['Port']}", purge
            time.sleep(0.5)
    purge()
    raise AssertionError(f"{job} never passed its check")
