"""Golden-file tests: the Nomad job a release renders to, per kind and profile.

Regenerate after an intended change with ``PAASTECH_UPDATE_GOLDEN=1 pytest tests/unit/scheduler``
and review the diff: these files are what Nomad receives.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import msgspec
import pytest

from paastech.scheduler.jobspec import SECOND, ReleaseSpec, hostnames, job_id, render, to_api

GOLDEN = Path(__file__).parent / "golden"
DIGEST = "sha256:" + "ab" * 32

CASES = {
    "container_dev": ReleaseSpec(
        project="hello",
        version=3,
        image="127.0.0.1:5000/hello",
        digest=DIGEST,
        env={"GREETING": "hi"},
        instances=2,
    ),
    "function_dev": ReleaseSpec(
        project="fn-echo",
        kind="function",
        version=1,
        image="127.0.0.1:5000/fn-echo",
        digest=DIGEST,
        instances=0,
        cpu=100,
        memory=128,
    ),
    "function_production": ReleaseSpec(
        project="fn-prod",
        kind="function",
        version=4,
        image="registry.internal:5000/fn-prod",
        digest=DIGEST,
        instances=0,
        profile="production",
    ),
    "container_scale_to_zero_dev": ReleaseSpec(
        project="sleepy",
        version=2,
        image="127.0.0.1:5000/sleepy",
        digest=DIGEST,
        scale_to_zero=True,
        max_instances=4,
    ),
    "custom_domains_dev": ReleaseSpec(
        project="shop",
        version=7,
        image="127.0.0.1:5000/shop",
        digest=DIGEST,
        domains=("shop.example.org", "www.shop.example.org"),
    ),
    "container_production_tcp": ReleaseSpec(
        project="api",
        version=12,
        image="registry.internal:5000/api",
        digest=DIGEST,
        health_path=None,
        profile="production",
        namespace="apps",
        datacenters=("eu1", "eu2"),
        instances=3,
        cpu=500,
        memory=512,
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_rendered_job_matches_golden_file(name: str) -> None:
    """Each kind/profile renders exactly the job checked into golden/ (what Nomad receives)."""
    rendered = json.dumps(to_api(CASES[name]), indent=2, sort_keys=True) + "\n"
    path = GOLDEN / f"{name}.json"
    if os.environ.get("PAASTECH_UPDATE_GOLDEN"):
        path.write_text(rendered)
    assert rendered == path.read_text()


def test_image_is_pinned_by_digest() -> None:
    """A release runs the exact image it was built with, never a movable tag."""
    task = render(CASES["container_dev"]).task_groups[0].tasks[0]
    assert task.config["image"] == f"127.0.0.1:5000/hello@{DIGEST}"


def test_platform_owns_port_and_release_env() -> None:
    """A user env var named PORT cannot break routing: the platform's value wins."""
    spec = msgspec.structs.replace(CASES["container_dev"], env={"PORT": "1", "A": "b"})
    env = render(spec).task_groups[0].tasks[0].env
    assert env["PORT"] == "${NOMAD_PORT_http}"
    assert env["A"] == "b"
    assert env["PAASTECH_RELEASE"] == "v3"


def test_deploys_are_health_gated_and_revert() -> None:
    """A release that never turns healthy is rolled back by Nomad, one instance at a time."""
    update = render(CASES["container_dev"]).update
    assert update.health_check == "checks"
    assert update.auto_revert is True
    assert update.max_parallel == 1
    # The first unhealthy instance fails the deploy: no rescheduling until a deadline.
    assert update.progress_deadline == 0


@pytest.mark.parametrize("instances", [1, 3])
def test_deploys_are_blue_green_and_drain_before_stopping(instances: int) -> None:
    """The new instances all start beside the old ones and are promoted once healthy; an
    old instance leaves the registry and keeps serving a while before it is stopped."""
    job = render(msgspec.structs.replace(CASES["container_dev"], instances=instances))
    assert job.update.canary == instances
    assert job.update.auto_promote is True
    assert job.task_groups[0].tasks[0].shutdown_delay >= 2 * SECOND


def test_scaled_to_zero_a_job_has_no_canaries() -> None:
    """With no instance wanted, nothing is deployed beside nothing."""
    job = render(msgspec.structs.replace(CASES["container_dev"], instances=0))
    assert job.update.canary == 0
    assert job.update.auto_promote is False


def test_profiles_choose_network_mode() -> None:
    """Dev runs on the host network (loopback), production in a bridge with a fixed app port."""
    dev = render(CASES["container_dev"]).task_groups[0]
    prod = render(CASES["container_production_tcp"]).task_groups[0]
    assert dev.networks[0].mode == "host"
    assert dev.tasks[0].config["network_mode"] == "host"
    assert prod.networks[0].mode == "bridge"
    assert prod.networks[0].dynamic_ports[0].to == 8080
    assert prod.tasks[0].env["PORT"] == "8080"
    assert prod.services[0].checks[0].type == "tcp"


def test_routes_tags_cover_every_hostname() -> None:
    """Operators on Fabio+Consul get a urlprefix tag for the app host and each custom domain."""
    spec = CASES["custom_domains_dev"]
    tags = render(spec).task_groups[0].services[0].tags
    assert tags == [f"urlprefix-{h}/" for h in hostnames(spec)]
    assert "urlprefix-shop.apps.localhost/" in tags
    assert job_id("shop") == "paastech-shop"


def test_durations_are_nanoseconds() -> None:
    """Nomad's JSON API takes nanoseconds; a seconds value would make checks fire constantly."""
    check = to_api(CASES["container_dev"])["Job"]["TaskGroups"][0]["Services"][0]["Checks"][0]  # type: ignore[index]
    assert check["Interval"] == 1 * SECOND


@pytest.mark.parametrize("name", ["function_dev", "function_production"])
def test_function_health_is_checked_on_the_shim_control_port(name: str) -> None:
    """Health checks of a function never reach its handler, so they do not keep it awake."""
    group = render(CASES[name]).task_groups[0]
    check = group.services[0].checks[0]
    labels = [port.label for port in group.networks[0].dynamic_ports]
    assert labels == ["http", "control"]
    assert (check.port_label, check.path) == ("control", "/healthz")
    assert group.services[0].port_label == "http"  # Client traffic goes to the app port
    assert "PAASTECH_CONTROL_PORT" in group.tasks[0].env
