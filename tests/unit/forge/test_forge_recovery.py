"""What a restarted forge does with each build it finds unfinished."""

from __future__ import annotations

import pytest

from paastech.forge.recovery import JOB_GONE, QUEUED_LOST, UNSUBMITTED, Decision, Step, decide

CASES = [
    ("queued, never started", "queued", "", False, Decision(Step.FAIL, QUEUED_LOST)),
    (
        "queued with a stale job id",
        "queued",
        "paastech-build-x",
        True,
        Decision(Step.FAIL, QUEUED_LOST),
    ),
    ("running, not yet submitted", "running", "", False, Decision(Step.FAIL, UNSUBMITTED)),
    (
        "running, job gone from Nomad",
        "running",
        "paastech-build-x",
        False,
        Decision(Step.FAIL, JOB_GONE.format(job="paastech-build-x")),
    ),
    ("running, job still in Nomad", "running", "paastech-build-x", True, Decision(Step.REATTACH)),
]


@pytest.mark.parametrize(
    ("what", "status", "job_id", "exists", "expected"), CASES, ids=[c[0] for c in CASES]
)
def test_each_unfinished_build_gets_one_next_step(
    what: str, status: str, job_id: str, exists: bool, expected: Decision
) -> None:
    """Every unfinished build either ends failed with a reason or is reattached to its job."""
    assert decide(status, job_id, exists) == expected
