"""A new user's first hour, through the ``paastech`` CLI, ``git`` and ``ssh`` only.

The real ``paastech-server all`` runs against a throwaway database. Nomad v1.6.5 cannot be
obtained on these machines (README, Status), so the flow goes as far as it truthfully can:
the push is stored and its build fails saying why, and everything that needs a running app
answers that its backend is unavailable. Each test pins what the user sees at that point.
"""

from __future__ import annotations

import json
import stat
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from e2e_harness import Platform, User

pytestmark = pytest.mark.e2e

PROJECT = "hello"
NOMAD_MISSING = "build backend unavailable: Nomad is not available on this host"


@dataclass(frozen=True)
class Onboarded:
    """A user who signed up, logged in and added an SSH key, with what each step printed."""

    user: User
    signup: subprocess.CompletedProcess[str]
    login: subprocess.CompletedProcess[str]
    key_path: Path
    key_added: subprocess.CompletedProcess[str]


@dataclass(frozen=True)
class Pushed:
    """A project created inside a fresh repository of the Python example, then pushed."""

    repo: Path
    head: str
    created: subprocess.CompletedProcess[str]
    push: subprocess.CompletedProcess[str]


def onboard(user: User) -> Onboarded:
    """Sign up, log in again (as on a second machine) and register ~/.ssh/id_ed25519.pub."""
    password = user.password + "\n"
    signup = user.run(
        "paastech", "signup", "--email", user.email, "--password-stdin", stdin=password
    )
    login = user.run("paastech", "login", "--email", user.email, "--password-stdin", stdin=password)
    key_path = user.keygen()
    key_added = user.run("paastech", "keys", "add", str(key_path))
    return Onboarded(user, signup, login, key_path, key_added)


def create_and_push(user: User, name: str) -> Pushed:
    """``projects create NAME`` inside a new repository of the example, then push ``main``."""
    repo = user.app_repo(name)
    created = user.run("paastech", "projects", "create", name, cwd=repo)
    assert created.returncode == 0, created.stderr
    push = user.run("git", "push", "paastech", "main", cwd=repo)
    head = user.ok("git", "rev-parse", "HEAD", cwd=repo).strip()
    return Pushed(repo, head, created, push)


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    """The CLI's error: exactly one ``Error: …`` line on stderr, nothing on stdout."""
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("Error: "), done.stderr
    assert "Traceback" not in done.stderr
    return lines[0]


def remote_lines(push: subprocess.CompletedProcess[str]) -> list[str]:
    """What the forge wrote to the pushing terminal (git prefixes it with ``remote:``)."""
    return [
        line.removeprefix("remote:").strip()
        for line in push.stderr.splitlines()
        if line.startswith("remote:")
    ]


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


def test_push_fails_its_build_honestly_while_nomad_is_unavailable(hello: Pushed) -> None:
    """Without Nomad the push announces the build, then fails it saying why, exiting non-zero."""
    lines = remote_lines(hello.push)
    assert f"-----> Building {PROJECT} (main {hello.head[:7]})" in lines
    assert "-----> Python app detected" in lines
    assert f"! Build failed: {NOMAD_MISSING}" in lines
    # git's own "failed to push some refs" must not leave the user guessing what was kept.
    assert (
        f"Your commit {hello.head[:7]} is stored on main; nothing was deployed. "
        "Fix the build and push again."
    ) in lines
    assert hello.push.returncode != 0


def test_builds_lists_the_failed_build_with_its_reason(alice: Onboarded, hello: Pushed) -> None:
    """``builds --json`` shows one failed build of the pushed commit, with the same error."""
    builds = json.loads(alice.user.ok("paastech", "builds", "--json", cwd=hello.repo))
    assert len(builds) == 1
    build = builds[0]
    assert build["status"] == "failed"
    assert build["number"] == 1
    assert build["commit_sha"] == hello.head
    assert build["ref"] == "refs/heads/main"
    assert build["error"] == NOMAD_MISSING


def test_build_log_is_what_the_push_terminal_showed(alice: Onboarded, hello: Pushed) -> None:
    """``logs --build ID`` replays the build's lines as the pusher saw them."""
    build_id = json.loads(alice.user.ok("paastech", "builds", "--json", cwd=hello.repo))[0]["id"]
    log = alice.user.ok("paastech", "logs", "--build", build_id, cwd=hello.repo)
    assert [line.strip() for line in log.splitlines()] == remote_lines(hello.push)


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


def test_releases_are_empty_while_no_build_has_succeeded(alice: Onboarded, hello: Pushed) -> None:
    """A failed build makes no release: ``releases`` is empty and says how to deploy."""
    user = alice.user
    assert json.loads(user.ok("paastech", "releases", "--json", cwd=hello.repo)) == []
    shown = user.run("paastech", "releases", cwd=hello.repo)
    assert shown.returncode == 0
    assert f"No releases of {PROJECT} yet" in shown.stdout + shown.stderr


def test_scale_before_any_release_is_stored_for_the_first_deploy(
    alice: Onboarded, hello: Pushed
) -> None:
    """``scale 2`` with nothing deployed succeeds, says it applies on deploy, and is kept."""
    user = alice.user
    said = user.ok("paastech", "scale", "2", cwd=hello.repo)
    assert f"{PROJECT} will run 2 instances once it is deployed" in said
    info = json.loads(user.ok("paastech", "projects", "info", "--json", cwd=hello.repo))
    assert info["instances"] == 2
    assert info["current_release"] is None


def test_ps_exits_6_while_the_scheduler_backend_is_unavailable(
    alice: Onboarded, hello: Pushed
) -> None:
    """``ps`` answers with exit 6 (backend unavailable) and one line naming Nomad."""
    done = alice.user.run("paastech", "ps", cwd=hello.repo)
    assert done.returncode == 6
    assert done.stdout == ""
    assert one_error_line(done) == "Error: scheduler backend (Nomad) is not available"


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
    assert rows["Status"] == "created"
    assert rows["URL"] == f"http://{PROJECT}.apps.localhost:9999"
    assert rows["Git remote"] == f"ssh://git@127.0.0.1:{platform.forge_port}/{PROJECT}.git"
    assert rows["Release"] == "-"
    assert rows["CPU (MHz)"] == "200"
    assert rows["Memory (MB)"] == "256"
    assert rows["Scale to zero"] == "no"
    assert rows["Idle timeout (s)"] == "300"


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


def test_projects_delete_removes_the_project_and_its_repository(
    alice: Onboarded, platform: Platform
) -> None:
    """``projects delete NAME --yes`` removes it: info then exits 4 and its bare repo is gone."""
    user = alice.user
    name = "goodbye"
    repos = platform.state_dir / "repos"
    before = set(repos.iterdir()) if repos.exists() else set()
    create_and_push(user, name)
    ours = set(repos.iterdir()) - before
    assert len(ours) == 1, ours
    (repo_dir,) = ours
    assert (repo_dir / "refs" / "heads" / "main").exists() or (repo_dir / "packed-refs").exists()

    assert f"Deleted {name}" in user.ok("paastech", "projects", "delete", name, "--yes")

    done = user.run("paastech", "projects", "info", name)
    assert done.returncode == 4
    assert one_error_line(done) == f"Error: no project named {name!r}"
    assert not repo_dir.exists()
    events = json.loads(user.ok("paastech", "audit", "--json"))
    assert {"action": "project.delete", "target": name} in [
        {"action": e["action"], "target": e["target"]} for e in events
    ]
    assert all(other.exists() for other in before)  # other projects' repositories stay
