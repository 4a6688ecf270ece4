"""Authentication and hostile input: every refusal is one ``!`` line, exit != 0, no trace."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from forge_harness import (
    Forge,
    Result,
    User,
    head_of,
    make_key,
    new_worktree,
    remote_head,
    run,
    snapshot,
)

pytestmark = pytest.mark.integration


def marker_exists(path: str | Path = "") -> bool:
    """True if an injected ``touch`` ever ran (of ``MARKER`` unless told otherwise)."""
    return os.path.lexists(path or MARKER)


def assert_refused(result: Result) -> None:
    assert result.status != 0, result
    assert len(result.bang_lines) == 1, result.stderr


@pytest.fixture
async def victim(forge: Forge, tmp_path: Path) -> User:
    """A user with a project named ``alpha`` holding one pushed commit."""
    user = await forge.user()
    await forge.project(user, "alpha")
    work = await new_worktree(user, tmp_path / "seed", {"index.html": "x\n"})
    pushed = await user.git("push", "-q", user.remote("alpha"), "main", cwd=work)
    assert "Building alpha" in pushed.stderr
    return user


# The injections aim at /tmp on purpose: that is where an attacker would try first.
TMP = Path("/tmp")  # noqa: S108
MARKER = str(TMP / f"paastech-forge-pwned-{uuid.uuid4().hex}")
LITERAL_X = TMP / "x"  # the issue's own example target
HOSTILE_COMMANDS = [
    "git-receive-pack '../x.git'",
    "git-receive-pack 'a.git; touch /tmp/x'",
    "git-receive-pack '$(id)'",
    f"git-receive-pack 'alpha.git; touch {MARKER}'",
    f"git-receive-pack 'alpha.git'; touch {MARKER}",
    f"git-upload-pack 'alpha.git' && touch {MARKER}",
    "git-receive-pack '$(id)'",
    f"git-receive-pack '$(touch {MARKER})'",
    f"git-receive-pack `touch {MARKER}`",
    "git-receive-pack '/etc/passwd'",
    "git-receive-pack '/alpha.git/../../x.git'",
    "git-receive-pack 'alpha.git' 'b.git'",
    "git-receive-pack\t'alpha.git'",
    "git-receive-pack 'alpha.git'\n",
    "git-receive-pack 'ALPHA.git'",
    "git receive-pack 'alpha.git'",
    "git-upload-archive 'alpha.git'",
    f"touch {MARKER}",
    "scp -t /tmp",
    "rm -rf /",
]


@pytest.mark.parametrize("command", HOSTILE_COMMANDS)
async def test_hostile_commands_are_refused_and_touch_nothing(
    forge: Forge, victim: User, command: str
) -> None:
    """Traversal, injection and foreign commands get one ! line and change no file."""
    state = Path(forge.settings.state_dir)
    before_state = snapshot(state)
    before_tmp = set(os.listdir(TMP))
    literal_x_existed = marker_exists(LITERAL_X)

    result = await victim.ssh(command)

    assert_refused(result)
    assert "only git-receive-pack and git-upload-pack" in result.bang_lines[0]
    assert snapshot(state) == before_state
    assert not marker_exists()
    # /tmp is shared with the rest of the machine, so only our names are checked there.
    assert not {n for n in set(os.listdir(TMP)) - before_tmp if "paastech-forge" in n}
    if not literal_x_existed:
        assert not marker_exists(LITERAL_X)


async def test_shell_request_is_refused(forge: Forge, victim: User) -> None:
    """ssh with no command (a shell), with or without a PTY, only gets a ! line."""
    state = Path(forge.settings.state_dir)
    before = snapshot(state)

    plain = await victim.ssh(None, "-T")
    empty = await victim.ssh("")
    with_pty = await victim.ssh(None, "-tt", stdin=b"id\nexit\n")

    for result in (plain, empty):
        assert_refused(result)
        assert "interactive shells are not available" in result.bang_lines[0]
    assert with_pty.status != 0
    assert "PTY allocation request failed" in with_pty.stderr
    assert "uid=" not in with_pty.stdout
    assert snapshot(state) == before


async def test_sftp_and_scp_are_refused(forge: Forge, victim: User, tmp_path: Path) -> None:
    """sftp, scp over sftp and legacy scp all fail; nothing lands on the server."""
    state = Path(forge.settings.state_dir)
    before = snapshot(state)
    local = tmp_path / "payload.txt"
    local.write_text("payload\n")
    target = f"git@127.0.0.1:{MARKER}"
    ssh_opts = victim.ssh_options()

    sftp = await run(
        "sftp",
        *ssh_opts,
        "-P",
        str(victim.port),
        "-b",
        "-",
        "git@127.0.0.1",
        stdin=f"put {local} {MARKER}\n".encode(),
        env=victim.env(),
    )
    scp = await run("scp", *ssh_opts, "-P", str(victim.port), str(local), target, env=victim.env())
    legacy = await run(
        "scp", "-O", *ssh_opts, "-P", str(victim.port), str(local), target, env=victim.env()
    )

    for result in (sftp, scp, legacy):
        assert result.status != 0, result
    assert "subsystems (sftp, scp) are not available" in sftp.stderr
    assert "subsystems (sftp, scp) are not available" in scp.stderr
    assert "only git-receive-pack and git-upload-pack" in legacy.stderr
    assert not marker_exists()
    assert snapshot(state) == before


async def test_unknown_key_is_refused(forge: Forge, victim: User, tmp_path: Path) -> None:
    """A key that is in no one's account cannot even open a session."""
    key, _, _ = await make_key(tmp_path / "stranger")
    stranger = User(client_id=uuid.uuid4(), key=key, port=forge.port, home=tmp_path / "stranger")

    result = await stranger.ssh("git-upload-pack 'alpha.git'")
    cloned = await stranger.git("clone", stranger.remote("alpha"), str(tmp_path / "loot"))

    assert result.status == 255
    assert "Permission denied (publickey)" in result.stderr
    assert cloned.status != 0
    assert not (tmp_path / "loot").exists()


async def test_password_auth_is_not_offered(forge: Forge, victim: User) -> None:
    """Only public keys authenticate: a password-only client is turned away by the server."""
    result = await run(
        "ssh",
        "-F",
        "/dev/null",
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "BatchMode=yes",
        "-o",
        "PubkeyAuthentication=no",
        "-o",
        "PreferredAuthentications=password,keyboard-interactive",
        "-p",
        str(forge.port),
        "git@127.0.0.1",
        "git-upload-pack 'alpha.git'",
    )

    assert result.status == 255
    assert "Permission denied (publickey)" in result.stderr


async def test_port_forwarding_is_refused(forge: Forge, victim: User) -> None:
    """The forge is not a jump host: a direct-tcpip channel (ssh -W) is refused."""
    result = await victim.ssh(None, "-W", f"127.0.0.1:{forge.port}")

    assert result.status != 0
    assert "SSH-2.0" not in result.stdout
    assert "stdio forwarding failed" in result.stderr


async def test_another_clients_project_answers_not_found_like_a_missing_one(
    forge: Forge, victim: User, tmp_path: Path
) -> None:
    """Someone else's project and no project at all are indistinguishable, for push and clone."""
    mallory = await forge.user("mallory")
    work = await new_worktree(mallory, tmp_path / "m", {"evil.txt": "x\n"})

    foreign_push = await mallory.git("push", mallory.remote("alpha"), "main", cwd=work)
    missing_push = await mallory.git("push", mallory.remote("nope"), "main", cwd=work)
    foreign_clone = await mallory.ssh("git-upload-pack '/alpha.git'")
    missing_clone = await mallory.ssh("git-upload-pack '/nope.git'")

    for result in (foreign_push, missing_push, foreign_clone, missing_clone):
        assert result.status != 0
        assert result.bang_lines == ["! not found"], result.stderr
    assert await remote_head(victim, "alpha") != await head_of(mallory, work)
