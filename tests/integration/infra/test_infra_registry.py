"""The image registry: an image pushed to it (with the platform's credentials) can be removed
locally and pulled back."""

from __future__ import annotations

import subprocess
import uuid

import httpx
import pytest
from components import RegistryAuth

pytestmark = pytest.mark.integration


def _docker(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=300, check=False, env=env
    )


def _delete_from_registry(registry: httpx.Client, repo: str, tag: str) -> None:
    """Remove the test's manifest again (the registry runs with deletes enabled)."""
    accept = "application/vnd.docker.distribution.manifest.v2+json"
    head = registry.head(f"/v2/{repo}/manifests/{tag}", headers={"Accept": accept})
    digest = head.headers["Docker-Content-Digest"]
    assert registry.delete(f"/v2/{repo}/manifests/{digest}").status_code == 202


def test_push_remove_pull_round_trip(
    base_images: dict[str, str], registry_auth: RegistryAuth
) -> None:
    """An image pushed to the registry comes back by pull after the local copy is gone."""
    env = registry_auth.docker_env()
    repo = f"paastech-test/roundtrip-{uuid.uuid4().hex[:8]}"
    ref = f"{registry_auth.address}/{repo}:v1"
    source_id = _docker(
        "image", "inspect", "--format", "{{.Id}}", base_images["base"], env=env
    ).stdout
    assert _docker("tag", base_images["base"], ref, env=env).returncode == 0
    auth = (registry_auth.username, registry_auth.password)
    with httpx.Client(base_url=f"http://{registry_auth.address}", auth=auth) as registry:
        try:
            push = _docker("push", ref, env=env)
            assert push.returncode == 0, push.stderr

            assert _docker("rmi", ref, env=env).returncode == 0
            assert _docker("image", "inspect", ref, env=env).returncode != 0

            pull = _docker("pull", ref, env=env)
            assert pull.returncode == 0, pull.stderr
            pulled_id = _docker("image", "inspect", "--format", "{{.Id}}", ref, env=env).stdout
            assert pulled_id == source_id
            assert registry.get(f"/v2/{repo}/tags/list").json()["tags"] == ["v1"]
        finally:
            _docker("rmi", "-f", ref, env=env)
            _delete_from_registry(registry, repo, "v1")
