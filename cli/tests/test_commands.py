"""The commands a new user walks through, against the FakeGateway."""

from __future__ import annotations

import json

import pytest
from conftest import Cli
from fakes import log_line

from paastech_cli import __version__

EMAIL = "ada@example.com"


@pytest.fixture
def hello(cli: Cli) -> Cli:
    """Logged in, with a deployed project `hello` selected through PAASTECH env + -p."""
    cli.login(EMAIL)
    project = cli.gateway.add_project(EMAIL, "hello")
    cli.gateway.release(project)
    return cli


def test_keys_add_uploads_the_default_key(cli: Cli) -> None:
    """`keys add` without a path reads ~/.ssh/id_ed25519.pub, named after its comment."""
    cli.login(EMAIL)
    (cli.home / ".ssh").mkdir()
    (cli.home / ".ssh" / "id_rsa.pub").write_text("ssh-rsa AAAAB3 old@laptop\n")
    (cli.home / ".ssh" / "id_ed25519.pub").write_text("ssh-ed25519 AAAAC3 ada@laptop\n")

    result = cli("keys", "add")

    assert result.code == 0, result.stderr
    (key,) = cli.gateway.keys.values()
    assert key["name"] == "ada@laptop"
    assert key["key_type"] == "ssh-ed25519"
    assert "SHA256:" in result.stdout


def test_keys_add_falls_back_to_rsa_then_fails_clearly(cli: Cli) -> None:
    cli.login(EMAIL)
    (cli.home / ".ssh").mkdir()

    missing = cli("keys", "add")
    assert missing.code == 2
    assert "ssh-keygen" in missing.stderr

    (cli.home / ".ssh" / "id_rsa.pub").write_text("ssh-rsa AAAAB3 old@laptop\n")
    assert cli("keys", "add", "--name", "old").code == 0
    assert [k["name"] for k in cli.gateway.keys.values()] == ["old"]


def test_keys_add_refuses_a_private_key(cli: Cli) -> None:
    """A private key file is never uploaded."""
    cli.login(EMAIL)
    private = cli.home / "id_ed25519"
    private.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nxxx\n")

    result = cli("keys", "add", str(private))

    assert result.code == 2
    assert cli.gateway.requests == []


def test_keys_remove_and_unknown_key(cli: Cli) -> None:
    cli.login(EMAIL)
    key = cli.home / "k.pub"
    key.write_text("ssh-ed25519 AAAA me\n")
    assert cli("keys", "add", str(key)).code == 0
    (key_id,) = cli.gateway.keys

    assert cli("keys", "remove", key_id).code == 0
    assert cli.gateway.keys == {}
    assert cli("keys", "remove", key_id).code == 4


def test_env_set_and_unset(hello: Cli) -> None:
    """`env set K=V …` sets many at once (values may hold `=`); `env unset` removes."""
    result = hello("env", "set", "GREETING=hi there", "URL=a=b", "-p", "hello")
    assert result.code == 0, result.stderr
    assert hello.gateway.projects["hello"].env == {"GREETING": "hi there", "URL": "a=b"}
    assert json.loads(hello.gateway.requests[-1].content) == {
        "GREETING": "hi there",
        "URL": "a=b",
    }

    assert hello("env", "unset", "URL", "-p", "hello").code == 0
    assert json.loads(hello.gateway.requests[-1].content) == {"URL": None}
    assert hello.gateway.projects["hello"].env == {"GREETING": "hi there"}


def test_rollback_accepts_v_number(hello: Cli) -> None:
    """`rollback v1` posts version 1 and reports the new release."""
    hello.gateway.release(hello.gateway.projects["hello"])

    result = hello("rollback", "v1", "-p", "hello")

    assert result.code == 0, result.stderr
    assert json.loads(hello.gateway.requests[-1].content) == {"version": 1}
    assert "v3" in result.stdout
    assert hello("rollback", "v9", "-p", "hello").code == 4


def test_scale_then_ps_shows_the_instances(hello: Cli) -> None:
    assert hello("scale", "2", "-p", "hello").code == 0
    assert json.loads(hello.gateway.requests[-1].content) == {"instances": 2}

    result = hello("ps", "-p", "hello")

    assert result.code == 0
    assert result.stdout.count("running") == 2


def test_projects_update_sends_only_given_fields(hello: Cli) -> None:
    result = hello(
        "projects", "update", "-p", "hello", "--memory", "512", "--scale-to-zero", "--json"
    )

    assert result.code == 0, result.stderr
    assert json.loads(hello.gateway.requests[-1].content) == {"memory": 512, "scale_to_zero": True}
    assert json.loads(result.stdout)["memory"] == 512
    refused = hello("projects", "update", "-p", "hello", "--memory", "99999")
    assert refused.code == 5
    assert "memory" in refused.stderr


def test_projects_delete_asks_for_the_name(hello: Cli) -> None:
    """delete without --yes deletes only when the typed name matches."""
    wrong = hello("projects", "delete", "hello", stdin="helo\n")
    assert wrong.code == 1
    assert "hello" in hello.gateway.projects

    closed = hello("projects", "delete", "hello", stdin="")
    assert closed.code == 1
    assert "hello" in hello.gateway.projects

    right = hello("projects", "delete", "hello", stdin="hello\n")
    assert right.code == 0, right.stderr
    assert "hello" not in hello.gateway.projects


def test_projects_delete_yes_skips_the_question(hello: Cli) -> None:
    result = hello("projects", "delete", "hello", "--yes")

    assert result.code == 0
    assert "Type the project name" not in result.stderr
    assert hello.gateway.projects == {}


def test_domains_add_list_remove(hello: Cli) -> None:
    assert hello("domains", "add", "www.example.com", "-p", "hello").code == 0
    assert "www.example.com" in hello("domains", "list", "-p", "hello").stdout
    assert hello("domains", "remove", "www.example.com", "-p", "hello").code == 0
    assert hello.gateway.projects["hello"].domains == []
    assert hello("domains", "remove", "www.example.com", "-p", "hello").code == 4


def test_domains_add_says_how_to_prove_it_then_verify(hello: Cli) -> None:
    """Adding prints the TXT record to publish; verify fails until it is there."""
    added = hello("domains", "add", "www.example.com", "-p", "hello")
    assert added.code == 0
    assert "_paastech-challenge.www.example.com" in added.stdout
    assert "paastech-verify-token" in added.stdout
    assert hello("domains", "verify", "www.example.com", "-p", "hello").code != 0
    hello.gateway.proved_domains.add("www.example.com")
    verified = hello("domains", "verify", "www.example.com", "-p", "hello")
    assert verified.code == 0
    assert "Verified www.example.com" in verified.stdout


def test_tokens_create_prints_the_secret_on_stdout_only(hello: Cli) -> None:
    """The secret alone goes to stdout (so `$(paastech tokens create ci)` works)."""
    result = hello("tokens", "create", "ci", "--expires-in-days", "7")

    assert result.code == 0
    secret = result.stdout.strip()
    assert hello.gateway.tokens[secret]["name"] == "ci"
    assert json.loads(hello.gateway.requests[-1].content) == {"name": "ci", "expires_in_days": 7}
    token_id = hello.gateway.tokens[secret]["id"]
    assert hello("tokens", "revoke", token_id).code == 0
    assert secret not in hello.gateway.tokens


def test_password_changes_it_and_signs_out_the_other_sessions(hello: Cli) -> None:
    """`paastech password` sends both passwords; the other login ends, this one stays."""
    other = hello.gateway.issue(EMAIL, "session")
    result = hello("password", "--password-stdin", stdin="correct horse 1\nnew password 99\n")
    assert result.code == 0, result.stderr
    assert "signed out 1 other session" in result.stdout + result.stderr
    assert other not in hello.gateway.tokens
    assert hello.gateway.accounts[EMAIL] == "new password 99"
    assert hello("whoami").code == 0


def test_password_with_the_wrong_current_one_fails(hello: Cli) -> None:
    """A wrong current password changes nothing and exits non-zero."""
    result = hello("password", "--password-stdin", stdin="wrong\nnew password 99\n")
    assert result.code != 0
    assert hello.gateway.accounts[EMAIL] == "correct horse 1"


def test_tokens_revoke_all_signs_out_everywhere(hello: Cli) -> None:
    """Every token of the account ends and the saved login is forgotten."""
    hello.gateway.issue(EMAIL, "api", "ci")
    result = hello("tokens", "revoke-all")
    assert result.code == 0, result.stderr
    assert not [t for t in hello.gateway.tokens.values() if t["email"] == EMAIL]
    assert hello("whoami").code != 0


def test_open_prints_and_opens_the_url(hello: Cli) -> None:
    result = hello("open", "-p", "hello")

    assert result.code == 0
    assert result.stdout.strip() == "http://hello.apps.localhost:9999/"
    assert hello.opened == ["http://hello.apps.localhost:9999/"]


def test_logs_prints_what_the_app_printed(hello: Cli) -> None:
    hello.gateway.log_lines = [log_line(0, "listening on :8080"), log_line(1, "oops", "stderr")]

    result = hello("logs", "-n", "50", "-p", "hello")

    assert result.code == 0, result.stderr
    first, second = result.stdout.splitlines()
    assert first.endswith("listening on :8080")
    assert first.startswith("2026-11-29T10:00:00.000Z 0000abcd")
    assert second.endswith("oops")


def test_logs_follow_ends_cleanly_on_ctrl_c(hello: Cli) -> None:
    """`logs -f` streams until Ctrl-C, then exits 0 without a traceback."""
    hello.gateway.log_lines = [log_line(n, f"line {n}") for n in range(10)]

    def interrupt(number: int) -> None:
        if number == 3:
            raise KeyboardInterrupt

    hello.gateway.on_log_line = interrupt

    result = hello("logs", "-f", "-p", "hello")

    assert result.code == 0
    assert result.stdout.splitlines()[-1].endswith("line 2")
    assert result.stderr == ""
    assert "follow=true" in str(hello.gateway.requests[-1].url)


def test_ctrl_c_elsewhere_is_130(hello: Cli) -> None:
    """Outside `logs -f`, an interrupt is reported as 130, like any shell tool."""
    hello.gateway.log_lines = [log_line(n, f"line {n}") for n in range(3)]
    hello.gateway.on_log_line = lambda n: (_ for _ in ()).throw(KeyboardInterrupt)

    assert hello("logs", "-p", "hello").code == 130


def test_logs_build_prints_the_build_log(hello: Cli) -> None:
    result = hello("logs", "--build", "b-1", "-p", "hello")

    assert result.code == 0, result.stderr
    assert result.stdout.splitlines() == [
        "Step 1/2 : FROM paastech/python",
        "Step 2/2 : CMD python app.py",
    ]


def test_every_command_has_help_with_an_example(cli: Cli) -> None:
    """`--help` on every command shows an example invocation."""
    commands = [
        ("signup",), ("login",), ("logout",), ("password",), ("whoami",), ("audit",),
        ("keys", "add"), ("keys", "list"), ("keys", "remove"),
        ("tokens", "create"), ("tokens", "list"), ("tokens", "revoke"), ("tokens", "revoke-all"),
        ("projects", "create"), ("projects", "list"), ("projects", "info"),
        ("projects", "update"), ("projects", "delete"),
        ("env", "set"), ("env", "unset"), ("env", "list"),
        ("domains", "add"), ("domains", "verify"), ("domains", "remove"), ("domains", "list"),
        ("releases",), ("rollback",), ("builds",), ("scale",), ("ps",), ("logs",), ("open",),
    ]  # fmt: skip
    for command in commands:
        result = cli(*command, "--help")
        assert result.code == 0, command
        assert f"$ paastech {' '.join(command)}" in result.stdout, command


def test_version(cli: Cli) -> None:
    result = cli("--version")

    assert result.code == 0
    assert result.stdout.strip() == __version__
