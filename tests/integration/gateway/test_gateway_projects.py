"""Projects, env, builds, releases, scale, runtime, domains and audit on the real database."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from dbrows import notifications, project_id, seed_build, seed_release, sql
from fakes import RecordingScheduler

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
    api: httpx.AsyncClient, alice: dict[str, str], settings: Settings
) -> None:
    """A created project has its git and app URLs and shows in the list (its repository is
    the forge's, made on the first push)."""
    body = await create(api, alice, "web", kind="function")
    assert (
        body["git_url"] == f"ssh://git@{settings.forge.public_host}:{settings.forge.port}/web.git"
    )
    assert body["url"] == "http://web.apps.localhost:9999"
    assert body["kind"] == "function"
    assert body["current_release"] is None
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


async def test_scale_with_release_is_stored_and_handed_to_the_control_loop(
    api: httpx.AsyncClient, alice: dict[str, str], settings: Settings
) -> None:
    """Scaling a deployed project stores the wanted count and wakes the scheduler (NOTIFY):
    the gateway never calls Nomad itself."""
    await create(api, alice)
    await seed_release(settings, "web")
    pid = await project_id(settings, "web")
    async with notifications(settings, "paastech_reconcile") as heard:
        r = await api.post(f"{V1}/projects/web/scale", json={"instances": 2}, headers=alice)
    assert r.status_code == 202
    assert r.json() == {"name": "web", "instances": 2, "applied": True}
    assert (await api.get(f"{V1}/projects/web", headers=alice)).json()["instances"] == 2
    assert str(pid) in heard
    assert [r["version"] for r in await sql(settings, "SELECT version FROM releases")] == [1]


async def test_delete_leaves_its_cleanup_in_the_outbox(
    api: httpx.AsyncClient, alice: dict[str, str], settings: Settings
) -> None:
    """Deleting a deployed project removes its rows at once and, in the same transaction,
    writes what the scheduler (job, routes, images) and the forge (repository) must remove."""
    await create(api, alice)
    await seed_release(settings, "web")
    pid = await project_id(settings, "web")
    async with notifications(settings, "paastech_outbox") as heard:
        assert (await api.delete(f"{V1}/projects/web", headers=alice)).status_code == 204
    assert (await api.get(f"{V1}/projects/web", headers=alice)).status_code == 404
    assert await sql(settings, "SELECT 1 FROM releases") == []
    rows = await sql(
        settings, "SELECT kind, project_id, project_name, done_at FROM outbox ORDER BY kind"
    )
    assert [(r["kind"], r["project_id"], r["project_name"], r["done_at"]) for r in rows] == [
        ("remove_app", pid, "web", None),
        ("remove_repo", pid, "web", None),
    ]
    assert set(heard) == {"remove_app", "remove_repo"}


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


async def test_env_change_with_release_makes_a_pending_release(
    api: httpx.AsyncClient, alice: dict[str, str], settings: Settings
) -> None:
    """With a release, an env change is saved with a new pending release (the value encrypted
    in its snapshot, never echoed) and the scheduler is woken to deploy it."""
    await create(api, alice)
    await seed_release(settings, "web")
    pid = await project_id(settings, "web")
    async with notifications(settings, "paastech_reconcile") as heard:
        r = await api.patch(f"{V1}/projects/web/env", json={"K": "s3cret-v"}, headers=alice)
    assert r.status_code == 200
    assert r.json()["release"] == 2
    assert str(pid) in heard
    releases = (await api.get(f"{V1}/projects/web/releases", headers=alice)).json()
    assert [(x["version"], x["status"]) for x in releases] == [(2, "pending"), (1, "running")]
    snapshot_text = await sql(settings, "SELECT config::text AS c FROM releases WHERE version = 2")
    assert "s3cret-v" not in snapshot_text[0]["c"]
    assert '"K"' in snapshot_text[0]["c"]


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


async def test_rollback_makes_a_pending_release_of_the_old_config(
    api: httpx.AsyncClient, alice: dict[str, str], settings: Settings
) -> None:
    """Rollback to vN is a new pending release with vN's image and config; vN must exist."""
    await create(api, alice)
    await seed_release(settings, "web")
    r = await api.post(f"{V1}/projects/web/rollback", json={"version": 9}, headers=alice)
    assert r.status_code == 404
    r = await api.post(f"{V1}/projects/web/rollback", json={"version": 1}, headers=alice)
    assert r.status_code == 201
    assert (r.json()["version"], r.json()["status"]) == (2, "pending")
    assert r.json()["description"] == "rollback to v1"
    rows = await sql(settings, "SELECT version, image, digest FROM releases ORDER BY version")
    assert rows[0]["digest"] == rows[1]["digest"]


@pytest.mark.parametrize("scheduler", [RecordingScheduler()])
async def test_instances_and_logs_come_from_the_scheduler(
    api: httpx.AsyncClient, alice: dict[str, str], settings: Settings, scheduler: Scheduler
) -> None:
    """Instances and NDJSON logs are the scheduler's reads, shaped for the client."""
    await create(api, alice)
    await seed_release(settings, "web")
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


async def test_patch_resources_makes_a_release_and_instances_alone_do_not(
    api: httpx.AsyncClient, alice: dict[str, str], settings: Settings
) -> None:
    """New resources for a deployed project are a new pending release; a new instance count
    alone is not part of any release (the scheduler applies it as it is)."""
    await create(api, alice)
    await seed_release(settings, "web")
    r = await api.patch(f"{V1}/projects/web", json={"memory": 512}, headers=alice)
    assert r.status_code == 200
    assert (await api.get(f"{V1}/projects/web", headers=alice)).json()["memory"] == 512
    releases = (await api.get(f"{V1}/projects/web/releases", headers=alice)).json()
    assert [(x["version"], x["status"]) for x in releases] == [(2, "pending"), (1, "running")]
    r = await api.patch(f"{V1}/projects/web", json={"instances": 3}, headers=alice)
    assert r.status_code == 200
    assert len((await api.get(f"{V1}/projects/web/releases", headers=alice)).json()) == 2


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
