"""The image registry: an image pushed to it can be removed locally and pulled back."""

from __future__ import annotations

import json
import subprocess
import urllib.request
import uuid

import pytest

pytestmark = pytest.mark.integration


def _docker(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=300, check=False
    )


def _delete_from_registry(address: str, repo: str, tag: str) -> None:
    """Remove the test's manifest again (the registry runs with deletes enabled)."""
    accept = "application/vnd.docker.distribution.manifest.v2+json"
    head = urllib.request.Request(
        f"http://{address}/v2/{repo}/manifests/{tag}", method="HEAD", headers={"Accept": accept}
    )
    with urllib.request.urlopen(head, timeout=5) as resp:  # noqa: S310
        digest = resp.headers["Docker-Content-Digest"]
    delete = urllib.request.Request(
        f"http://{address}/v2/{repo}/manifests/{digest}", method="DELETE"
    )
    with urllib.request.urlopen(delete, timeout=5):  # noqa: S310
        pass


def test_push_remove_pull_round_trip(base_images: dict[str, str], image_registry: str) -> None:
    """An image pushed to the registry comes back by pull after the local copy is gone."""
    repo = f"paastech-test/roundtrip-{uuid.uuid4().hex[:8]}"
    ref = f"{image_registry}/{repo}:v1"
    source_id = _docker("image", "inspect", "--format", "{{.Id}}", base_images["base"]).stdout
    assert _docker("tag", base_images["base"], ref).returncode == 0
    try:
        push = _docker("push", ref)
        assert push.returncode == 0, push.stderr

        assert _docker("rmi", ref).returncode == 0
        assert _docker("image", "inspect", ref).returncode != 0

        pull = _docker("pull", ref)
        assert pull.returncode == 0, pull.stderr
        pulled_id = _docker("image", "inspect", "--format", "{{.Id}}", ref).stdout
        assert pulled_id == source_id
        with urllib.request.urlopen(
            f"http://{image_registry}/v2/{repo}/tags/list", timeout=5
        ) as resp:
            assert json.load(resp)["tags"] == ["v1"]
    finally:
        _docker("rmi", "-f", ref)
        _delete_from_registry(image_registry, repo, "v1")
