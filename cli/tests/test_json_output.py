"""`--json` on every read command: stable shapes scripts can rely on."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import Cli
from fakes import log_line

EMAIL = "ada@example.com"


@pytest.fixture
def world(cli: Cli) -> Cli:
    """A logged-in account with one deployed project, a key, a token, a domain and env."""
    cli.login(EMAIL)
    project = cli.gateway.add_project(EMAIL, "hello")
    cli.gateway.release(project)
    cli.gateway.release(project, "Set env")
    project.env["GREETING"] = "hi"
    project.domains.append("www.example.com")
    project.instances = 2
    cli.gateway.log_lines = [log_line(n, f"line {n}") for n in range(5)]
    assert cli("tokens", "create", "ci").code == 0
    (cli.home / ".ssh").mkdir()
    (cli.home / ".ssh" / "id_ed25519.pub").write_text("ssh-ed25519 AAAAC3Nza ada@laptop\n")
    assert cli("keys", "add").code == 0
    return cli


def _json(cli: Cli, *args: str) -> Any:
    result = cli(*args, "--json")
    assert result.code == 0, result.stderr
    return json.loads(result.stdout)


def test_projects_list_is_an_array_of_projects(world: Cli) -> None:
    """`projects list --json` is an array of objects with the contract's project fields."""
    projects = _json(world, "projects", "list")
    assert [p["name"] for p in projects] == ["hello"]
    assert {"name", "kind", "git_url", "url", "status", "current_release", "created_at"} <= set(
        projects[0]
    )
    assert projects[0]["current_release"] == 2


def test_projects_info_is_one_project_object(world: Cli) -> None:
    project = _json(world, "projects", "info", "hello")
    assert project["name"] == "hello"
    assert project["git_url"] == "ssh://git@127.0.0.1:2222/hello.git"
    assert project["instances"] == 2


def test_releases_are_newest_first(world: Cli) -> None:
    releases = _json(world, "releases", "-p", "hello")
    assert [r["version"] for r in releases] == [2, 1]
    assert {"version", "status", "description", "created_at"} <= set(releases[0])


def test_ps_lists_instances(world: Cli) -> None:
    instances = _json(world, "ps", "-p", "hello")
    assert len(instances) == 2
    assert set(instances[0]) == {"id", "status", "started_at", "address", "release"}


def test_env_list_is_a_key_value_object(world: Cli) -> None:
    """Values are masked unless --reveal."""
    assert _json(world, "env", "list", "-p", "hello") == {"GREETING": "****"}
    assert _json(world, "env", "list", "-p", "hello", "--reveal") == {"GREETING": "hi"}


def test_keys_tokens_domains_audit_whoami(world: Cli) -> None:
    keys = _json(world, "keys", "list")
    assert [k["name"] for k in keys] == ["ada@laptop"]
    assert {"id", "name", "fingerprint"} <= set(keys[0])

    tokens = _json(world, "tokens", "list")
    assert sorted((t["name"], t["kind"]) for t in tokens) == [("ci", "api"), ("login", "session")]
    assert all("token" not in t for t in tokens)

    assert [d["hostname"] for d in _json(world, "domains", "list", "-p", "hello")] == [
        "www.example.com"
    ]
    me = _json(world, "whoami")
    assert me["email"] == EMAIL
    events = _json(world, "audit")
    assert isinstance(events, list)


def test_builds_list(world: Cli) -> None:
    builds = _json(world, "builds", "-p", "hello")
    assert builds[1]["id"] == "b-1"
    assert builds[1]["status"] == "succeeded"
    assert (builds[0]["status"], builds[0]["queue_position"]) == ("queued", 3)


def test_builds_table_shows_a_queued_builds_position(world: Cli) -> None:
    """`paastech builds` says where in the queue a queued build is."""
    result = world("builds", "-p", "hello")
    assert result.code == 0
    assert "queued (#3 in queue)" in result.stdout


def test_logs_json_is_one_object_per_line(world: Cli) -> None:
    """`logs --json` prints NDJSON: one {ts, instance, stream, line} object per line."""
    result = world("logs", "-p", "hello", "-n", "3", "--json")
    assert result.code == 0, result.stderr
    lines = [json.loads(text) for text in result.stdout.splitlines()]
    assert [entry["line"] for entry in lines] == ["line 2", "line 3", "line 4"]
    assert set(lines[0]) == {"ts", "instance", "stream", "line"}
    assert "lines=3" in str(world.gateway.requests[-1].url)


def test_tokens_create_json_includes_the_secret_once(world: Cli) -> None:
    created = _json(world, "tokens", "create", "deploy")
    assert set(created) >= {"id", "name", "token"}
    assert created["token"] in world.gateway.tokens


def test_tables_for_people(world: Cli) -> None:
    """Without --json, read commands print a table with a header row."""
    result = world("projects", "list")
    assert result.code == 0
    header, row = result.stdout.splitlines()[:2]
    assert header.split() == ["NAME", "KIND", "STATUS", "RELEASE", "URL"]
    assert row.split()[:4] == ["hello", "container", "running", "v2"]


def test_tables_in_a_pipe_keep_whole_ids(world: Cli) -> None:
    """Piped tables never cut or wrap a row: an ID can be copied from `keys list`."""
    (key_id,) = world.gateway.keys
    world.gateway.keys[key_id]["name"] = "a-rather-long-key-name-" * 4

    rows = world("keys", "list").stdout.splitlines()

    assert len(rows) == 2
    assert rows[1].split()[0] == key_id
