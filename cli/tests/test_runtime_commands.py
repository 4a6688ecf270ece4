"""The running-app commands: `status` at a glance, `-p` anywhere, short build ids, releases
with their reason."""

from __future__ import annotations

import json

import pytest
from conftest import Cli

EMAIL = "ada@example.com"


@pytest.fixture
def hello(cli: Cli) -> Cli:
    cli.login(EMAIL)
    project = cli.gateway.add_project(EMAIL, "hello")
    cli.gateway.release(project)
    project.instances = 2
    return cli


def test_status_shows_url_release_instances_and_last_build(hello: Cli) -> None:
    """One command answers "is my app up, which version, where": URL, live release,
    instance count by state and the last build."""
    result = hello("status", "-p", "hello")

    assert result.code == 0, result.stderr
    out = result.stdout
    assert "http://hello.apps.localhost:9999/" in out
    assert "v1 running" in out
    assert "2 running" in out
    assert "#2 queued (#3 in queue)" in out


def test_status_json_is_one_document(hello: Cli) -> None:
    result = hello("status", "--json", "-p", "hello")

    assert result.code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["project"]["name"] == "hello"
    assert doc["release"]["version"] == 1
    assert len(doc["instances"]) == 2
    assert doc["build"]["id"] == "b-2"


def test_status_still_answers_while_the_scheduler_is_down(hello: Cli) -> None:
    """Instances are unknown while the scheduler is away; the rest is still shown (exit 0)."""
    hello.gateway.backend_up = False

    result = hello("status", "-p", "hello")

    assert result.code == 0, result.stderr
    assert "unknown (the scheduler is unavailable)" in result.stdout
    assert "http://hello.apps.localhost:9999/" in result.stdout


@pytest.mark.parametrize(
    "argv",
    [
        ("-p", "hello", "ps"),
        ("--project", "hello", "ps"),
        ("--project=hello", "ps"),
        ("ps", "-p", "hello"),
        ("-p", "hello", "env", "list"),
        ("env", "-p", "hello", "list"),
        ("env", "list", "-p", "hello"),
    ],
)
def test_project_option_works_in_any_position(hello: Cli, argv: tuple[str, ...]) -> None:
    """`-p NAME` before the command, between command words or at the end means the same."""
    result = hello(*argv)

    assert result.code == 0, result.stderr
    assert any("/projects/hello/" in p for p in hello.gateway.paths())


def test_build_log_by_a_prefix_of_its_id(hello: Cli) -> None:
    """`logs --build 3f2a` finds the one build whose id starts so, as the help says."""
    project = hello.gateway.projects["hello"]
    project.builds = [
        {"id": "3f2a9c1d-0000", "number": 1, "status": "succeeded", "commit_sha": "abc"},
        {"id": "77aa0000-0000", "number": 2, "status": "failed", "commit_sha": "def"},
    ]

    result = hello("logs", "--build", "3f2a", "-p", "hello")

    assert result.code == 0, result.stderr
    assert "Step 1/2" in result.stdout
    assert "GET /api/v1/projects/hello/builds/3f2a9c1d-0000/log" in hello.gateway.paths()


def test_an_ambiguous_or_unknown_build_prefix_fails_clearly(hello: Cli) -> None:
    """Two builds starting alike: usage error (2) naming both; no match: not found (4)."""
    project = hello.gateway.projects["hello"]
    project.builds = [
        {"id": "3f2a9c1d-0000", "number": 1, "status": "succeeded", "commit_sha": "abc"},
        {"id": "3f2b0000-0000", "number": 2, "status": "failed", "commit_sha": "def"},
    ]

    ambiguous = hello("logs", "--build", "3f2", "-p", "hello")
    assert ambiguous.code == 2
    assert "ambiguous" in ambiguous.stderr
    assert "3f2a9c1d" in ambiguous.stderr
    assert "3f2b0000" in ambiguous.stderr

    unknown = hello("logs", "--build", "dead", "-p", "hello")
    assert unknown.code == 4
    assert "dead" in unknown.stderr


def test_releases_show_status_and_reason(hello: Cli) -> None:
    """A failed release says why, in its row."""
    project = hello.gateway.projects["hello"]
    hello.gateway.release(project, "Deploy def5678")
    project.releases[-1].update(status="failed", reason="health check failed on /")

    result = hello("releases", "-p", "hello")

    assert result.code == 0, result.stderr
    row = next(line for line in result.stdout.splitlines() if line.startswith("v2"))
    assert "failed" in row
    assert "health check failed on /" in row
