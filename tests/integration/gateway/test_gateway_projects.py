"""Projects, env, builds, releases, scale, runtime, domains and audit on the real database."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from dbrows import project_id, seed_build, seed_release, snapshot, sql
from fakes import FakeRepoStore, RecordingScheduler
from gateway_harness import PROBLEM

from paastech.services import Scheduler
from paastech.settings import Settings

V1 = "/api/v1"


async def create(
    api: httpx.AsyncClient, who: dict[str, str], name: str = "web", **extra: str
) -> dict:
    r = await api.post(f"{V1}/projects", json={"name": name, **extra}, headers=who)
    assert r.status_code == 201, r.text
    return r.json()


async def test_create_list_show_project(
    api: httpx.AsyncClient, alice: dict[str, str], repos: FakeRepoStore, settings: Settings
) -> None:
    """A created project has its git and app URLs, a repository, and shows in the list."""
    body = await create(api, alice, "web", kind="function")
    assert (
        body["git_url"] == f"ssh://git@{settings.forge.public_host}:{settings.forge.port}/web.git"
    )
    assert body["url"] == "http://web.apps.localhost:9999"
    assert body["kind"] == "function"
    assert body["current_release"] is None
    assert await project_id(settings, "web") in repos.existing
    listed = (await api.get(f"{V1}/projects", headers=alice)).json()
    assert [p["name"] for p in listed] == ["web"]
    assert (await api.get(f"{V1}/projects/web", headers=alice)).json()["name"] == "web"
    assert (await api.get(f"{V1}/projects/nope", headers=alice)).status_code == 404


async def test_project_list_matches_show(api: httpx.AsyncClient, alice: dict[str, str]) -> None:
    """The list (rendered by the fast path) gives exactly the objects the single GET gives."""
    for name in ("zeta", "alpha", "mid-app"):
        await create(api, alice, name)
    listed = (await api.get(f"{V1}/projects", headers=alice)).json()
    assert [p["name"] for p in listed] == ["alpha", "mid-app", "zeta"]
    for item in listed:
        one = (await api.get(f"{V1}/projects/{item['name']}", headers=alice)).json()
        assert item == one


@pytest.mark.parametrize(
    ("stored", "spelled"),
    [
        ("2026-01-02T03:04:05Z", "2026-01-02T03:04:05Z"),  # whole second: no fraction
        ("2026-01-02T03:04:05.12+02:00", "2026-01-02T01:04:05.120000Z"),  # trailing zeros
        ("2026-12-31T23:59:59.000001-05:00", "2027-01-01T04:59:59.000001Z"),  # next year in UTC
    ],
)
async def test_project_list_spells_timestamps_as_show_does(
    api: httpx.AsyncClient, alice: dict[str, str], settings: Settings, stored: str, spelled: str
) -> None:
    """Whatever the fraction or offset stored, the list and the single GET say the same, in UTC."""
    await create(api, alice, "stamped")
    await sql(
        settings,
        "UPDATE projects SET created_at = $1::text::timestamptz,"
        " updated_at = $1::text::timestamptz",
        stored,
    )
    [listed] = (await api.get(f"{V1}/projects", headers=alice)).json()
    one = (await api.get(f"{V1}/projects/stamped", headers=alice)).json()
    assert listed == one
    assert listed["created_at"] == listed["updated_at"] == spelled


async def test_project_list_is_plain_json(api: httpx.AsyncClient, alice: dict[str, str]) -> None:
    """The list answers application/json with an exact Content-Length, also when empty."""
    empty = await api.get(f"{V1}/projects", headers=alice)
    assert (empty.status_code, empty.json()) == (200, [])
    await create(api, alice, "sized")
    r = await api.get(f"{V1}/projects", headers=alice)
    assert r.headers["content-type"] == "application/json"
    assert int(r.headers["content-length"]) == len(r.content)


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("ab", 422),  # too short
        ("1abc", 422),  # starts with a digit
        ("abc-", 422),  # trailing hyphen
        ("Abc", 422),  # uppercase
        ("a" * 41, 422),  # too long
        ("admin", 422),  # reserved
        ("api", 422),  # reserved
    ],
)
async def test_project_name_rules(
    api: httpx.AsyncClient, alice: dict[str, str], name: str, status: int
) -> None:
    """Names are DNS labels of 3-40 chars, start with a letter, and are not reserved."""
    r = await api.post(f"{V1}/projects", json={"name": name}, headers=alice)
    assert r.status_code == status
    message = r.json()["errors"]["name"]
    # A person reads the rule (or why the name is refused), never the raw regex.
    assert "regex" not in message
    assert "reserved" in message or "starting with a letter" in message


async def test_project_names_are_global(
    api: httpx.AsyncClient, alice: dict[str, str], bob: dict[str, str]
) -> None:
    """Two Clients cannot hold the same project name."""
    await create(api, alice, "shared")
    r = await api.post(f"{V1}/projects", json={"name": "shared"}, headers=bob)
    assert r.status_code == 409


async def test_create_fails_cleanly_when_forge_is_down(
    api: httpx.AsyncClient, alice: dict[str, str], repos: FakeRepoStore, settings: Settings
) -> None:
    """No repository, no project: a forge failure is a 503 and leaves no row behind."""
    repos.fail = True
    r = await api.post(f"{V1}/projects", json={"name": "web"}, headers=alice)
    assert r.status_code == 503
    assert await sql(settings, "SELECT 1 FROM projects") == []
    assert await sql(settings, "SELECT 1 FROM audit_events WHERE action = 'project.create'") == []


async def test_patch_limits(api: httpx.AsyncClient, alice: dict[str, str]) -> None:
    """PATCH stores values within the limits and names each field outside them."""
    await create(api, alice)
    r = await api.patch(f"{V1}/projects/web", json={"cpu": 500, "memory": 512}, headers=alice)
    assert r.status_code == 200
    assert (r.json()["cpu"], r.json()["memory"]) == (500, 512)
    r = await api.patch(
        f"{V1}/projects/web", json={"cpu": 99999, "memory": 1, "instances": 999}, headers=alice
    )
    assert r.status_code == 422
    assert set(r.json()["errors"]) == {"cpu", "memory", "instances"}


async def test_scale_without_release_is_stored(
    api: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    """Scaling a never-deployed project stores the count for its first deploy (202)."""
    await create(api, alice)
    r = await api.post(f"{V1}/projects/web/scale", json={"instances": 3}, headers=alice)
    assert r.status_code == 202
    assert r.json() == {"name": "web", "instances": 3, "applied": False}
    assert (await api.get(f"{V1}/projects/web", headers=alice)).json()["instances"] == 3


async def test_scale_with_release_needs_scheduler(
    api: httpx.AsyncClient, alice: dict[str, str], settings: Settings
) -> None:
    """With a release, scaling needs the scheduler: 503 and the stored count is unchanged."""
    await create(api, alice)
    await seed_release(settings, "web")
    r = await api.post(f"{V1}/projects/web/scale", json={"instances": 3}, headers=alice)
    assert r.status_code == 503
    assert r.headers["content-type"].startswith(PROBLEM)
    assert (await api.get(f"{V1}/projects/web", headers=alice)).json()["instances"] == 1


@pytest.mark.parametrize("scheduler", [RecordingScheduler()], indirect=False)
async def test_scale_with_release_calls_scheduler(
    api: httpx.AsyncClient, alice: dict[str, str], settings: Settings, scheduler: Scheduler
) -> None:
    """With a reachable scheduler the scale is applied and stored."""
    await create(api, alice)
    await seed_release(settings, "web")
    r = await api.post(f"{V1}/projects/web/scale", json={"instances": 2}, headers=alice)
    assert r.status_code == 202
    assert r.json()["applied"] is True
    assert isinstance(scheduler, RecordingScheduler)
    assert scheduler.calls[-1][0] == "scale"


async def test_delete_project_without_release(
    api: httpx.AsyncClient, alice: dict[str, str], repos: FakeRepoStore, settings: Settings
) -> None:
    """A never-deployed project is deleted with its repository."""
    await create(api, alice)
    pid = await project_id(settings, "web")
    assert (await api.delete(f"{V1}/projects/web", headers=alice)).status_code == 204
    assert pid not in repos.existing
    assert (await api.get(f"{V1}/projects/web", headers=alice)).status_code == 404


async def test_delete_deployed_project_needs_scheduler(
    api: httpx.AsyncClient, alice: dict[str, str], settings: Settings
) -> None:
    """A deployed project cannot be deleted while the scheduler is away: 503, nothing gone."""
    await create(api, alice)
    await seed_release(settings, "web")
    before = await snapshot(settings)
    assert (await api.delete(f"{V1}/projects/web", headers=alice)).status_code == 503
    assert await snapshot(settings) == before


async def test_env_roundtrip_encrypted_and_masked(
    api: httpx.AsyncClient, alice: dict[str, str], settings: Settings
) -> None:
    """Env values are encrypted at rest, masked on read, revealed on request, unset by null."""
    await create(api, alice)
    r = await api.patch(
        f"{V1}/projects/web/env",
        json={"DATABASE_URL": "postgres://s3cret", "DEBUG": "1"},
        headers=alice,
    )
    assert r.status_code == 200, r.text
    assert r.json()["env"] == {"DATABASE_URL": "********", "DEBUG": "********"}
    assert r.json()["release"] is None  # nothing to redeploy yet
    stored = await sql(settings, "SELECT value_encrypted FROM env_vars")
    assert all("s3cret" not in row["value_encrypted"] for row in stored)
    audit = await sql(
        settings, "SELECT detail::text AS d FROM audit_events WHERE action = 'env.update'"
    )
    assert "s3cret" not in audit[0]["d"]
    r = await api.get(f"{V1}/projects/web/env", params={"reveal": "true"}, headers=alice)
    assert r.json()["env"]["DATABASE_URL"] == "postgres://s3cret"
    r = await api.patch(f"{V1}/projects/web/env", json={"DEBUG": None}, headers=alice)
    assert list(r.json()["env"]) == ["DATABASE_URL"]
    r = await api.patch(f"{V1}/projects/web/env", json={"1BAD": "x", "GOOD": "y"}, headers=alice)
    assert r.status_code == 422
    assert "1BAD" in r.json()["errors"]
    assert "GOOD" not in (await api.get(f"{V1}/projects/web/env", headers=alice)).json()["env"]


async def test_env_change_with_release_and_no_scheduler(
    api: httpx.AsyncClient, alice: dict[str, str], settings: Settings
) -> None:
    """With a release but no scheduler: 503 that says so; the change and a failed release stay."""
    await create(api, alice)
    await seed_release(settings, "web")
    r = await api.patch(f"{V1}/projects/web/env", json={"K": "v"}, headers=alice)
    assert r.status_code == 503
    assert "saved as release v2" in r.json()["detail"]
    assert "v" not in r.json()["detail"].split("release v2")[0].split()  # value not echoed
    releases = (await api.get(f"{V1}/projects/web/releases", headers=alice)).json()
    assert [(x["version"], x["status"]) for x in releases] == [(2, "failed"), (1, "running")]
    env = (await api.get(f"{V1}/projects/web/env", headers=alice)).json()["env"]
    assert "K" in env


@pytest.mark.parametrize("scheduler", [RecordingScheduler()])
async def test_env_change_redeploys(
    api: httpx.AsyncClient, alice: dict[str, str], settings: Settings, scheduler: Scheduler
) -> None:
    """With a reachable scheduler an env change deploys the new release."""
    await create(api, alice)
    await seed_release(settings, "web")
    r = await api.patch(f"{V1}/projects/web/env", json={"K": "v"}, headers=alice)
    assert r.status_code == 200
    assert r.json()["release"] == 2
    assert isinstance(scheduler, RecordingScheduler)
    assert scheduler.calls[-1] == ("deploy", await project_id(settings, "web"), 2)


async def test_builds_and_log(
    api: httpx.AsyncClient, alice: dict[str, str], settings: Settings
) -> None:
    """Builds list newest first; the kept log is served as text."""
    await create(api, alice)
    first = await seed_build(settings, "web", log="hello\nworld\n")
    await seed_build(settings, "web", status="failed")
    builds = (await api.get(f"{V1}/projects/web/builds", headers=alice)).json()
    assert [b["number"] for b in builds] == [2, 1]
    one = await api.get(f"{V1}/projects/web/builds/{first}", headers=alice)
    assert one.json()["status"] == "succeeded"
    log = await api.get(f"{V1}/projects/web/builds/{first}/log", headers=alice)
    assert log.text == "hello\nworld\n"
    missing = "00000000-0000-0000-0000-000000000000"
    assert (await api.get(f"{V1}/projects/web/builds/{missing}", headers=alice)).status_code == 404


async def test_queued_builds_show_their_queue_position_and_builds_their_plan(
    api: httpx.AsyncClient, alice: dict[str, str], settings: Settings
) -> None:
    """Queued builds carry their place in the queue; a detected plan is served with the build."""
    await create(api, alice)
    running = await seed_build(settings, "web", status="running")
    await sql(
        settings,
        "UPDATE builds SET plan = $1::jsonb WHERE id = $2",
        '{"kind": "python", "port": 8080, "processes": {"web": "python app.py"}}',
        running,
    )
    await seed_build(settings, "web", status="queued")
    third = await seed_build(settings, "web", status="queued")

    builds = (await api.get(f"{V1}/projects/web/builds", headers=alice)).json()
    one = (await api.get(f"{V1}/projects/web/builds/{third}", headers=alice)).json()
    shown = (await api.get(f"{V1}/projects/web/builds/{running}", headers=alice)).json()

    assert [(b["number"], b["queue_position"]) for b in builds] == [(3, 2), (2, 1), (1, None)]
    assert one["queue_position"] == 2
    assert shown["plan"] == {"kind": "python", "port": 8080, "processes": {"web": "python app.py"}}


async def test_build_log_follow_streams_until_done(
    api: httpx.AsyncClient, alice: dict[str, str], settings: Settings
) -> None:
    """follow=true streams text appended while the build runs and ends when it finishes."""
    await create(api, alice)
    build_id = await seed_build(settings, "web", status="running", log="start\n")

    async def forge() -> None:
        await asyncio.sleep(0.6)
        await sql(settings, "UPDATE builds SET log = log || 'more\n' WHERE id = $1", build_id)
        await asyncio.sleep(0.6)
        await sql(
            settings,
            "UPDATE builds SET log = log || 'done\n', status = 'succeeded' WHERE id = $1",
            build_id,
        )

    writer = asyncio.create_task(forge())
    r = await api.get(
        f"{V1}/projects/web/builds/{build_id}/log",
        params={"follow": "true"},
        headers=alice,
        timeout=20,
    )
    await writer
    assert r.text == "start\nmore\ndone\n"


async def test_rollback_without_scheduler(
    api: httpx.AsyncClient, alice: dict[str, str], settings: Settings
) -> None:
    """Rollback creates a new release from vN; without a scheduler it is 503 and marked failed."""
    await create(api, alice)
    await seed_release(settings, "web")
    r = await api.post(f"{V1}/projects/web/rollback", json={"version": 9}, headers=alice)
    assert r.status_code == 404
    r = await api.post(f"{V1}/projects/web/rollback", json={"version": 1}, headers=alice)
    assert r.status_code == 503
    releases = (await api.get(f"{V1}/projects/web/releases", headers=alice)).json()
    assert releases[0]["version"] == 2
    assert releases[0]["description"] == "rollback to v1"


@pytest.mark.parametrize("scheduler", [RecordingScheduler()])
async def test_rollback_instances_logs_with_scheduler(
    api: httpx.AsyncClient, alice: dict[str, str], settings: Settings, scheduler: Scheduler
) -> None:
    """With a scheduler: rollback deploys, instances and NDJSON logs come from it."""
    await create(api, alice)
    await seed_release(settings, "web")
    r = await api.post(f"{V1}/projects/web/rollback", json={"version": 1}, headers=alice)
    assert r.status_code == 201
    assert r.json()["version"] == 2
    inst = await api.get(f"{V1}/projects/web/instances", headers=alice)
    assert inst.json()[0]["id"] == "alloc-1"
    logs = await api.get(f"{V1}/projects/web/logs", params={"lines": 2}, headers=alice)
    lines = [line for line in logs.text.splitlines() if line]
    assert len(lines) == 2
    assert logs.headers["content-type"].startswith("application/x-ndjson")


async def test_instances_and_logs_without_scheduler(
    api: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    """Runtime views need the scheduler: 503 problem+json, never a fake empty list."""
    await create(api, alice)
    for path in ("instances", "logs"):
        r = await api.get(f"{V1}/projects/web/{path}", headers=alice)
        assert r.status_code == 503
        assert r.json()["title"] == "backend unavailable"


async def test_domains(api: httpx.AsyncClient, alice: dict[str, str], bob: dict[str, str]) -> None:
    """Custom hostnames are validated, unique across Clients, listed and removable."""
    await create(api, alice, "web")
    await create(api, bob, "other")
    r = await api.post(
        f"{V1}/projects/web/domains", json={"hostname": "WWW.Example.com"}, headers=alice
    )
    assert r.status_code == 201
    assert r.json()["hostname"] == "www.example.com"
    r = await api.post(
        f"{V1}/projects/other/domains", json={"hostname": "www.example.com"}, headers=bob
    )
    assert r.status_code == 409
    for bad in ("localhost", "x..y.com", "-a.com", "web.apps.localhost"):
        r = await api.post(f"{V1}/projects/web/domains", json={"hostname": bad}, headers=alice)
        assert r.status_code == 422, bad
    listed = (await api.get(f"{V1}/projects/web/domains", headers=alice)).json()
    assert [d["hostname"] for d in listed] == ["www.example.com"]
    r = await api.delete(f"{V1}/projects/web/domains/www.example.com", headers=alice)
    assert r.status_code == 204
    r = await api.delete(f"{V1}/projects/web/domains/www.example.com", headers=alice)
    assert r.status_code == 404


async def test_audit_trail(
    api: httpx.AsyncClient, alice: dict[str, str], bob: dict[str, str]
) -> None:
    """Each mutating call leaves an event; a Client sees only its own, newest first."""
    await create(api, alice, "web")
    await api.patch(f"{V1}/projects/web/env", json={"A": "1"}, headers=alice)
    await create(api, bob, "bobs")
    events = (await api.get(f"{V1}/audit", headers=alice)).json()
    actions = [e["action"] for e in events]
    assert actions[:2] == ["env.update", "project.create"]
    assert "client.signup" in actions
    assert all(e["actor"] == "alice@example.com" for e in events)
    assert events[0]["ip"]
    assert len((await api.get(f"{V1}/audit", params={"limit": 1}, headers=alice)).json()) == 1


async def test_patch_with_release_and_no_scheduler(
    api: httpx.AsyncClient, alice: dict[str, str], settings: Settings
) -> None:
    """New settings for a deployed project are kept, as a failed release, and answered 503."""
    await create(api, alice)
    await seed_release(settings, "web")
    r = await api.patch(f"{V1}/projects/web", json={"memory": 512}, headers=alice)
    assert r.status_code == 503
    assert "saved as release v2" in r.json()["detail"]
    assert (await api.get(f"{V1}/projects/web", headers=alice)).json()["memory"] == 512
    releases = (await api.get(f"{V1}/projects/web/releases", headers=alice)).json()
    assert releases[0]["status"] == "failed"


@pytest.mark.parametrize("scheduler", [RecordingScheduler()])
async def test_delete_deployed_project_with_scheduler(
    api: httpx.AsyncClient,
    alice: dict[str, str],
    settings: Settings,
    scheduler: Scheduler,
    repos: FakeRepoStore,
) -> None:
    """A deployed project is destroyed by the scheduler, then its rows and repo go."""
    await create(api, alice)
    await seed_release(settings, "web")
    pid = await project_id(settings, "web")
    assert (await api.delete(f"{V1}/projects/web", headers=alice)).status_code == 204
    assert isinstance(scheduler, RecordingScheduler)
    assert ("destroy", pid, None) in scheduler.calls
    assert await sql(settings, "SELECT 1 FROM releases") == []
    assert pid not in repos.existing


async def test_secrets_stay_out_of_logs(
    api: httpx.AsyncClient,
    alice: dict[str, str],
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Passwords, tokens and env values never reach a log line, even on failures."""
    caplog.set_level("DEBUG")
    await create(api, alice)
    await seed_release(settings, "web")
    await api.post(
        f"{V1}/auth/login", json={"email": "alice@example.com", "password": "pw-leak-1234"}
    )
    await api.patch(f"{V1}/projects/web/env", json={"TOKEN": "env-leak-5678"}, headers=alice)
    await api.post(f"{V1}/auth/signup", json={"email": "x@example.com", "password": "short"})
    token = alice["Authorization"].split()[1]
    for secret in ("pw-leak-1234", "env-leak-5678", token):
        assert secret not in caplog.text
