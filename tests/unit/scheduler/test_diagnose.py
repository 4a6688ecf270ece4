"""Why a deploy failed, read from what Nomad recorded of an instance (table-driven)."""

from __future__ import annotations

from typing import Any

import pytest

from paastech.scheduler.diagnose import reason_of
from paastech.scheduler.reconcile import repository
from paastech.scheduler.service import seconds


def _alloc(
    *events: dict[str, Any], restarts: int = 0, healthy: bool | None = None
) -> dict[str, Any]:
    alloc: dict[str, Any] = {
        "TaskStates": {"app": {"Events": list(events), "Restarts": restarts}},
        "AllocatedResources": {"Tasks": {"app": {"Memory": {"MemoryMB": 256}}}},
    }
    if healthy is not None:
        alloc["DeploymentStatus"] = {"Healthy": healthy}
    return alloc


CASES = {
    "image pull": (
        _alloc(
            {
                "Type": "Driver Failure",
                "DriverError": "Failed to pull `127.0.0.1:5000/x@sha256:1`: unauthorized",
            }
        ),
        {},
        "image pull error: Failed to pull `127.0.0.1:5000/x@sha256:1`: unauthorized",
    ),
    "oom": (
        _alloc(
            {"Type": "Started"},
            {"Type": "Terminated", "ExitCode": 137, "Details": {"oom_killed": "true"}},
        ),
        {},
        "out of memory: the app was killed at its memory limit of 256 MB",
    ),
    "crash at start": (
        _alloc(
            {"Type": "Started"},
            {"Type": "Terminated", "ExitCode": 3},
            {"Type": "Not Restarting"},
            restarts=2,
        ),
        {},
        "the app crashed at start: it exited with code 3 (restarted 2 times)",
    ),
    "failing check": (
        _alloc({"Type": "Started"}, healthy=False),
        {"c1": {"Status": "failure", "Output": "HTTP 503 Service Unavailable\nbody"}},
        "health check failed: HTTP 503 Service Unavailable",
    ),
    "never healthy, no check output": (
        _alloc({"Type": "Started"}, healthy=False),
        {},
        "health check failed: its health check never answered 2xx before the deadline",
    ),
    "nothing wrong": (_alloc({"Type": "Started"}), {"c1": {"Status": "success"}}, None),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_reason_names_what_a_client_can_fix(name: str) -> None:
    """Each kind of failure reads as the cause, not as Nomad's internal wording."""
    alloc, checks, expected = CASES[name]
    assert reason_of(alloc, checks) == expected


@pytest.mark.parametrize(
    ("image", "repo"),
    [
        ("127.0.0.1:5000/hello:2d3f", "127.0.0.1:5000/hello"),
        ("127.0.0.1:5000/hello", "127.0.0.1:5000/hello"),
        ("registry.internal:5000/team/app:v1", "registry.internal:5000/team/app"),
    ],
)
def test_releases_run_the_repository_by_digest(image: str, repo: str) -> None:
    """A build's tag is dropped: the job pins ``repository@digest``."""
    assert repository(image) == repo


@pytest.mark.parametrize(("text", "value"), [("1s", 1.0), ("500ms", 0.5), ("2m", 120.0)])
def test_fabio_durations_read_as_seconds(text: str, value: float) -> None:
    """The router's poll interval (a Go duration) sets how long a deploy waits for it."""
    assert seconds(text) == value
