"""Saved sessions: one per gateway URL, in a 0600 file under XDG_CONFIG_HOME or ~/.config."""

from __future__ import annotations

import stat
import tomllib
from pathlib import Path

from conftest import API, Cli

from paastech_cli.credentials import Credentials, CredentialStore

PASSWORD = "correct horse 1"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_login_saves_the_token_in_a_private_file(cli: Cli) -> None:
    """login writes ~/.config/paastech/credentials.toml with mode 0600 (dir 0700)."""
    cli.gateway.accounts["ada@example.com"] = PASSWORD

    result = cli("login", "--email", "ada@example.com", "--password-stdin", stdin=PASSWORD + "\n")

    assert result.code == 0, result.stderr
    path = cli.home / ".config" / "paastech" / "credentials.toml"
    assert _mode(path) == 0o600
    assert _mode(path.parent) == 0o700
    saved = tomllib.loads(path.read_text())["gateways"][API]
    assert saved["email"] == "ada@example.com"
    assert saved["token"] in cli.gateway.tokens
    assert PASSWORD not in path.read_text()


def test_saved_session_is_used_by_later_commands(cli: Cli) -> None:
    """After login, commands authenticate with the saved token."""
    cli.gateway.accounts["ada@example.com"] = PASSWORD
    cli("login", "--email", "ada@example.com", "--password-stdin", stdin=PASSWORD)

    result = cli("whoami")

    assert result.code == 0, result.stderr
    assert result.stdout.strip() == "ada@example.com"


def test_password_prompt_is_used_without_password_stdin(cli: Cli) -> None:
    """Without --password-stdin the password comes from the no-echo prompt."""
    cli.gateway.accounts["ada@example.com"] = PASSWORD
    cli.secret_answers.append(PASSWORD)

    result = cli("login", "--email", "ada@example.com")

    assert result.code == 0, result.stderr
    assert "Password:" in result.stderr


def test_xdg_config_home_is_respected(cli: Cli, tmp_path: Path) -> None:
    """With XDG_CONFIG_HOME set, the file lives there instead of ~/.config."""
    cli.env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg")
    cli.gateway.accounts["ada@example.com"] = PASSWORD

    assert cli("login", "--email", "ada@example.com", "--password-stdin", stdin=PASSWORD).code == 0

    assert _mode(tmp_path / "xdg" / "paastech" / "credentials.toml") == 0o600
    assert not (cli.home / ".config").exists()


def test_sessions_are_kept_per_gateway_url(tmp_path: Path) -> None:
    """Two gateways keep two sessions; a trailing slash does not make a third."""
    store = CredentialStore(tmp_path / "c" / "credentials.toml")
    store.put("http://a:8000/", Credentials(token="ta", email="a@x"))
    store.put("http://b:8000", Credentials(token='t"b\\\n', email="b@x"))

    assert store.get("http://a:8000") == Credentials(token="ta", email="a@x")
    assert store.get("http://b:8000/") == Credentials(token='t"b\\\n', email="b@x")
    assert store.remove("http://a:8000")
    assert store.get("http://a:8000") is None
    assert _mode(store.path) == 0o600


def test_rewriting_tightens_a_loose_file_mode(tmp_path: Path) -> None:
    """A credentials file someone made world-readable is 0600 again after the next write."""
    path = tmp_path / "credentials.toml"
    path.write_text("")
    path.chmod(0o644)

    CredentialStore(path).put("http://a", Credentials(token="t"))

    assert _mode(path) == 0o600


def test_an_expired_session_asks_to_log_in_again(cli: Cli) -> None:
    """A saved session past its expires_at is refused locally with exit 3, no request made."""
    CredentialStore.for_environ(cli.env).put(
        API, Credentials(token="old", email="a@x", expires_at="2020-01-01T00:00:00+00:00")
    )

    result = cli("projects", "list")

    assert result.code == 3
    assert "expired" in result.stderr
    assert cli.gateway.requests == []


def test_logout_revokes_and_forgets(cli: Cli) -> None:
    """logout revokes the token on the gateway and removes it from the file."""
    cli.gateway.accounts["ada@example.com"] = PASSWORD
    cli("login", "--email", "ada@example.com", "--password-stdin", stdin=PASSWORD)
    token = CredentialStore.for_environ(cli.env).get(API)
    assert token is not None

    result = cli("logout")

    assert result.code == 0, result.stderr
    assert token.token not in cli.gateway.tokens
    assert CredentialStore.for_environ(cli.env).get(API) is None
    assert cli("whoami").code == 3


def test_logout_never_revokes_the_env_token(cli: Cli) -> None:
    """With PAASTECH_TOKEN set, logout revokes the saved session only, not the CI token."""
    cli.gateway.accounts["ada@example.com"] = PASSWORD
    cli("login", "--email", "ada@example.com", "--password-stdin", stdin=PASSWORD)
    ci_token = cli.gateway.issue("ada@example.com", "api", "ci")
    cli.env["PAASTECH_TOKEN"] = ci_token

    assert cli("logout").code == 0

    assert ci_token in cli.gateway.tokens
    assert [t["kind"] for t in cli.gateway.tokens.values()] == ["api"]
    assert cli("logout").stderr.startswith("Not logged in")


def test_paastech_token_env_needs_no_file(cli: Cli) -> None:
    """PAASTECH_TOKEN authenticates scripts without any saved session."""
    cli.login()

    assert cli("whoami").code == 0
    assert not (cli.home / ".config").exists()


def test_api_url_flag_selects_the_gateway(cli: Cli) -> None:
    """--api-url beats PAASTECH_API_URL, and the session is saved under that URL."""
    cli.gateway.accounts["ada@example.com"] = PASSWORD

    result = cli(
        "login",
        "--email",
        "ada@example.com",
        "--password-stdin",
        "--api-url",
        "http://other.test:9000/",
        stdin=PASSWORD,
    )

    assert result.code == 0, result.stderr
    assert cli.gateway.requests[-1].url.host == "other.test"
    assert CredentialStore.for_environ(cli.env).get("http://other.test:9000") is not None
    assert CredentialStore.for_environ(cli.env).get(API) is None


def test_signup_creates_the_account_and_logs_in(cli: Cli) -> None:
    """signup asks the password twice, creates the account and saves a session."""
    cli.secret_answers.extend([PASSWORD, PASSWORD])

    result = cli("signup", "--email", "new@example.com")

    assert result.code == 0, result.stderr
    assert cli.gateway.accounts["new@example.com"] == PASSWORD
    assert CredentialStore.for_environ(cli.env).get(API) is not None


def test_signup_refuses_mismatched_passwords(cli: Cli) -> None:
    """Two different passwords at the prompts is a usage error before any request."""
    cli.secret_answers.extend([PASSWORD, PASSWORD + "x"])

    result = cli("signup", "--email", "new@example.com")

    assert result.code == 2
    assert cli.gateway.requests == []
