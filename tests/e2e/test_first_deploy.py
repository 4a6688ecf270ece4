"""A new user's first hour, through the ``paastech`` CLI, ``git`` and ``ssh`` only.

The real ``paastech-server all`` runs against a throwaway database, on the real Nomad agent,
Docker, the registry and a Fabio of its own: the push builds in a Nomad batch job, goes live
behind Fabio, and every command shows what really runs. Each test pins what the user sees.
"""

from __future__ import annotations

import json
import stat
import subprocess
from collections.abc import Callable

import httpx
import pytest
from e2e_harness import (
    Onboarded,
    Platform,
    Pushed,
    User,
    create_and_push,
    eventually,
    onboard,
    one_error_line,
    remote_lines,
)

pytestmark = pytest.mark.e2e

PROJECT = "hello"


@pytest.fixture(scope="module")
def alice(new_user: Callable[[str], User]) -> Onboarded:
    return onboard(new_user("alice"))


@pytest.fixture(scope="module")
def hello(alice: Onboarded) -> Pushed:
    return create_and_push(alice.user, PROJECT)


@pytest.fixture(scope="module")
def bob(new_user: Callable[[str], User]) -> Onboarded:
    return onboard(new_user("bob"))


def test_signup_logs_in_and_whoami_shows_the_email(alice: Onboarded) -> None:
    """Signing up creates the account and a saved 0600 session; whoami names the account."""
    user = alice.user
    assert alice.signup.returncode == 0, alice.signup.stderr
    assert f"Created account {user.email}" in alice.signup.stdout
    assert f"Logged in to {user.platform.api_url} as {user.email}" in alice.signup.stdout
    assert alice.login.returncode == 0, alice.login.stderr
    assert f"as {user.email}" in alice.login.stdout
    credentials = user.home / ".config" / "paastech" / "credentials.toml"
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    assert user.ok("paastech", "whoami").strip() == user.email


def test_keys_add_shows_the_fingerprint_ssh_keygen_computes(alice: Onboarded) -> None:
    """The fingerprint the CLI reports is the SHA256 one ``ssh-keygen -lf`` prints."""
    assert alice.key_added.returncode == 0, alice.key_added.stderr
    fingerprint = alice.user.ok("ssh-keygen", "-lf", str(alice.key_path)).split()[1]
    assert fingerprint.startswith("SHA256:")
    assert fingerprint in alice.key_added.stdout
    listed = json.loads(alice.user.ok("paastech", "keys", "list", "--json"))
    assert [k["fingerprint"] for k in listed] == [fingerprint]


def test_projects_create_adds_the_paastech_remote_pointing_at_the_forge(
    alice: Onboarded, hello: Pushed, platform: Platform
) -> None:
    """Inside a git repository, ``projects create`` adds a ``paastech`` remote on the forge port."""
    expected = f"ssh://git@127.0.0.1:{platform.forge_port}/{PROJECT}.git"
    assert f"Created {PROJECT} (container)" in hello.created.stdout
    assert f"git remote: {expected}" in hello.created.stdout
    assert "Added git remote `paastech`" in hello.created.stderr
    url = alice.user.ok("git", "remote", "get-url", "paastech", cwd=hello.repo).strip()
    assert url == expected


def test_pushed_commits_are_stored_and_clone_back(alice: Onboarded, hello: Pushed) -> None:
    """The pushed ``main`` is kept by the forge: a fresh clone checks out the same commit."""
    assert "* [new branch]      main -> main" in hello.push.stderr
    url = alice.user.ok("git", "remote", "get-url", "paastech", cwd=hello.repo).strip()
    clone = alice.user.home / "clone-of-hello"
    alice.user.ok("git", "clone", "-q", url, str(clone))
    assert alice.user.ok("git", "rev-parse", "HEAD", cwd=clone).strip() == hello.head
    assert (clone / "app.py").read_text() == (hello.repo / "app.py").read_text()


def test_push_builds_in_nomad_and_ends_live_at_the_apps_url(
    hello: Pushed, platform: Platform
) -> None:
    """The push shows the build, the release and ends with the app's URL, exit 0."""
    lines = remote_lines(hello.push)
    assert hello.push.returncode == 0, "\n".join(lines)
    assert f"-----> Building {PROJECT} (main {hello.head[:7]})" in lines
    assert "-----> Python app detected" in lines
    assert "-----> Build #1 succeeded" in " ".join(lines)
    assert "-----> Releasing v1" in lines
    assert lines[-1] == f"-----> Live at {platform.app_url(PROJECT)}"


def test_the_app_answers_through_fabio(hello: Pushed, platform: Platform) -> None:
    """Once the push returned, the app answers through Fabio by Host header and by name."""
    answer = platform.via_fabio(PROJECT)
    assert answer.status_code == 200
    assert answer.json()["message"] == "Hello from Python"
    assert answer.json()["release"] == "v1"
    # curl resolves *.localhost to loopback, as browsers do.
    curl = subprocess.run(
        ["curl", "-sf", "--max-time", "5", f"{platform.app_url(PROJECT)}/"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert curl.returncode == 0, curl.stderr
    assert json.loads(curl.stdout)["message"] == "Hello from Python"


def test_builds_lists_the_build_with_its_digest(alice: Onboarded, hello: Pushed) -> None:
    """``builds --json`` shows the succeeded build of the pushed commit and its image digest."""
    builds = json.loads(alice.user.ok("paastech", "builds", "--json", cwd=hello.repo))
    assert len(builds) == 1
    build = builds[0]
    assert build["status"] == "succeeded"
    assert build["number"] == 1
    assert build["commit_sha"] == hello.head
    assert build["ref"] == "refs/heads/main"
    assert build["digest"].startswith("sha256:")


def test_build_log_is_what_the_push_terminal_showed(alice: Onboarded, hello: Pushed) -> None:
    """``logs --build ID`` replays the build's lines as the pusher saw them."""
    build_id = json.loads(alice.user.ok("paastech", "builds", "--json", cwd=hello.repo))[0]["id"]
    log = alice.user.ok("paastech", "logs", "--build", build_id, cwd=hello.repo)
    shown = [line.strip() for line in log.splitlines()]
    pushed = remote_lines(hello.push)
    assert shown == pushed[: len(shown)]
    assert any("succeeded" in line for line in shown)


def test_releases_show_v1_live(alice: Onboarded, hello: Pushed) -> None:
    """The push made release v1 of the build, and it is live."""
    listed = json.loads(alice.user.ok("paastech", "releases", "--json", cwd=hello.repo))
    assert [(r["version"], r["status"]) for r in listed] == [(1, "live")]


def test_ps_lists_the_running_instance(alice: Onboarded, hello: Pushed) -> None:
    """``ps --json`` lists one running instance of release v1 on a loopback address."""
    instances = json.loads(alice.user.ok("paastech", "ps", "--json", cwd=hello.repo))
    assert len(instances) == 1
    assert instances[0]["status"] == "running"
    assert instances[0]["release"] == 1
    assert instances[0]["address"].startswith("127.0.0.1:")


def test_projects_info_shows_the_settings(
    alice: Onboarded, hello: Pushed, platform: Platform
) -> None:
    """``projects info`` (project from the git remote) shows URL, remote, status and resources."""
    shown = alice.user.ok("paastech", "projects", "info", cwd=hello.repo)
    rows = {
        label.strip(): value.strip()
        for label, _, value in (line.partition(": ") for line in shown.splitlines())
    }
    assert rows["Name"] == PROJECT
    assert rows["Kind"] == "container"
    assert rows["Status"] == "running"
    assert rows["URL"] == platform.app_url(PROJECT)
    assert rows["Git remote"] == f"ssh://git@127.0.0.1:{platform.forge_port}/{PROJECT}.git"
    assert rows["Release"] == "v1"
    assert rows["CPU (MHz)"] == "200"
    assert rows["Memory (MB)"] == "256"
    assert rows["Scale to zero"] == "no"
    assert rows["Idle timeout (s)"] == "300"


def test_env_values_are_masked_unless_revealed(alice: Onboarded, hello: Pushed) -> None:
    """``env set`` stores a variable; ``env list`` masks its value and ``--reveal`` shows it."""
    user = alice.user
    assert f"Set GREETING on {PROJECT}" in user.ok(
        "paastech", "env", "set", "GREETING=hi", cwd=hello.repo
    )
    masked = user.ok("paastech", "env", "list", cwd=hello.repo)
    row = next(line.split() for line in masked.splitlines() if line.startswith("GREETING"))
    assert row[1] != "hi"
    assert set(row[1]) == {"*"}
    assert json.loads(user.ok("paastech", "env", "list", "--reveal", "--json", cwd=hello.repo)) == {
        "GREETING": "hi"
    }
    revealed = user.ok("paastech", "env", "list", "--reveal", cwd=hello.repo)
    assert ["GREETING", "hi"] in [line.split() for line in revealed.splitlines()]


def test_an_api_token_works_without_any_login(
    alice: Onboarded, hello: Pushed, new_user: Callable[[str], User]
) -> None:
    """A token from ``tokens create`` (alone on stdout) acts as its owner via PAASTECH_TOKEN."""
    created = alice.user.run("paastech", "tokens", "create", "ci")
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert token
    assert "\n" not in token
    assert "not shown again" in created.stderr
    ci = new_user("ci")  # a machine that never logged in
    env = ci.env(PAASTECH_TOKEN=token)
    whoami = ci.run("paastech", "whoami", env=env)
    assert whoami.returncode == 0, whoami.stderr
    assert whoami.stdout.strip() == alice.user.email
    listed = ci.run("paastech", "projects", "list", "--json", env=env)
    assert [p["name"] for p in json.loads(listed.stdout)] == [PROJECT]
    assert not (ci.home / ".config" / "paastech" / "credentials.toml").exists()


def test_another_user_cannot_see_the_project(bob: Onboarded, hello: Pushed) -> None:
    """A second account gets exit 4 "not found" for someone else's project, not a hint it exists."""
    assert bob.signup.returncode == 0, bob.signup.stderr
    done = bob.user.run("paastech", "projects", "info", PROJECT)
    assert done.returncode == 4
    assert one_error_line(done) == f"Error: no project named {PROJECT!r}"
    assert json.loads(bob.user.ok("paastech", "projects", "list", "--json")) == []


def test_another_user_cannot_push_to_the_project(
    alice: Onboarded, bob: Onboarded, hello: Pushed, platform: Platform
) -> None:
    """A push with another account's key is refused with ``! not found`` and changes nothing."""
    assert bob.key_added.returncode == 0, bob.key_added.stderr
    url = f"ssh://git@127.0.0.1:{platform.forge_port}/{PROJECT}.git"
    repo = bob.user.app_repo("intruder")
    (repo / "app.py").write_text("print('not yours')\n")
    bob.user.ok("git", "commit", "-q", "-am", "overwrite", cwd=repo)
    pushed = bob.user.run("git", "push", "--force", url, "main", cwd=repo)
    assert pushed.returncode != 0
    assert "! not found" in pushed.stderr.splitlines()
    clone = alice.user.home / "clone-after-intruder"
    alice.user.ok("git", "clone", "-q", url, str(clone))
    assert alice.user.ok("git", "rev-parse", "HEAD", cwd=clone).strip() == hello.head


def test_audit_lists_the_users_own_actions(alice: Onboarded, bob: Onboarded, hello: Pushed) -> None:
    """``audit --json`` lists the user's own signup, logins, key and project, and nobody else's."""
    events = json.loads(alice.user.ok("paastech", "audit", "--json"))
    actions = [e["action"] for e in events]
    for expected in ("client.signup", "auth.login", "key.add", "project.create"):
        assert expected in actions, actions
    assert {e["actor"] for e in events} == {alice.user.email}
    assert {e["ip"] for e in events} == {"127.0.0.1"}
    created = next(e for e in events if e["action"] == "project.create")
    assert created["target"] == PROJECT
    ids = [e["id"] for e in events]
    assert ids == sorted(ids, reverse=True)  # newest first


def test_projects_delete_leaves_no_job_route_image_or_repository(
    alice: Onboarded, platform: Platform
) -> None:
    """``projects delete NAME --yes`` removes the project, and after the commit the platform
    removes its Nomad job, its route, its registry tags and its bare repository."""
    user = alice.user
    name = "goodbye"
    repos = platform.state_dir / "repos"
    before = set(repos.iterdir()) if repos.exists() else set()
    pushed = create_and_push(user, name)
    assert pushed.push.returncode == 0, pushed.push.stderr
    assert platform.via_fabio(name).status_code == 200
    ours = set(repos.iterdir()) - before
    assert len(ours) == 1, ours
    (repo_dir,) = ours
    nomad = httpx.Client(
        base_url=platform.stack.nomad.address, headers=platform.stack.nomad.headers
    )
    registry = httpx.Client(
        base_url=f"http://{platform.stack.registry.address}",
        auth=(platform.stack.registry.username, platform.stack.registry.password),
    )
    assert nomad.get(f"/v1/job/paastech-{name}").status_code == 200
    assert registry.get(f"/v2/{name}/tags/list").json()["tags"]

    assert f"Deleted {name}" in user.ok("paastech", "projects", "delete", name, "--yes")

    done = user.run("paastech", "projects", "info", name)
    assert done.returncode == 4
    assert one_error_line(done) == f"Error: no project named {name!r}"
    eventually(lambda: nomad.get(f"/v1/job/paastech-{name}").status_code == 404, "job purged")
    eventually(lambda: not repo_dir.exists(), "repository removed")
    eventually(lambda: not registry.get(f"/v2/{name}/tags/list").json().get("tags"), "tags gone")
    eventually(lambda: platform.via_fabio(name).status_code == 404, "route gone")
