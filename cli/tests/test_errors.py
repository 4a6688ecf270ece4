"""Errors end as one line on stderr, never a traceback, with a distinct exit code per class."""

from __future__ import annotations

import socket

import httpx
import pytest
from conftest import Cli

from paastech_cli.exits import Exit


def _closed_loopback_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _one_clean_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("Error: ")
    return lines[0]


def test_gateway_down_is_backend_unavailable(cli: Cli) -> None:
    """Connection refused on a closed loopback port → exit 6 and a hint about --api-url."""
    port = _closed_loopback_port()
    cli.env["PAASTECH_TOKEN"] = "anything"
    cli.real_network = True

    result = cli("projects", "list", "--api-url", f"http://127.0.0.1:{port}")

    assert result.code == 6
    line = _one_clean_line(result.stderr)
    assert f"127.0.0.1:{port}" in line
    assert "connection refused" in line
    assert result.stdout == ""


def test_bad_token_is_an_auth_error(cli: Cli) -> None:
    """A 401 from the gateway → exit 3 with a hint to log in."""
    cli.env["PAASTECH_TOKEN"] = "not-a-token"

    result = cli("projects", "list")

    assert result.code == 3
    line = _one_clean_line(result.stderr)
    assert "paastech login" in line


def test_not_logged_in_is_an_auth_error_without_a_request(cli: Cli) -> None:
    result = cli("projects", "list")

    assert result.code == 3
    _one_clean_line(result.stderr)
    assert cli.gateway.requests == []


def test_unknown_project_is_not_found(cli: Cli) -> None:
    """A 404 → exit 4, with the gateway's detail."""
    cli.login()

    result = cli("projects", "info", "ghost")

    assert result.code == 4
    assert "no project named ghost" in _one_clean_line(result.stderr)


def test_invalid_fields_are_named(cli: Cli) -> None:
    """A 422 → exit 5, naming each refused field on the one line."""
    cli.login()

    result = cli("projects", "create", "A_bad_name")

    assert result.code == 5
    line = _one_clean_line(result.stderr)
    assert "name:" in line


def test_duplicate_is_invalid_input(cli: Cli) -> None:
    """A 409 (name taken) is refused input too → exit 5."""
    cli.login()
    cli.gateway.add_project("someone@else", "hello")

    result = cli("projects", "create", "hello")

    assert result.code == 5
    assert "taken" in _one_clean_line(result.stderr)


def test_backend_503_is_backend_unavailable(cli: Cli) -> None:
    """A 503 (Nomad or forge down) → exit 6."""
    cli.login()
    cli.gateway.add_project("ada@example.com", "hello")
    cli.gateway.backend_up = False

    result = cli("scale", "2", "-p", "hello")

    assert result.code == 6
    assert "backend unavailable" in _one_clean_line(result.stderr)


@pytest.mark.parametrize(
    "args",
    [
        ("nosuchcommand",),
        ("projects", "list", "--bogus"),
        ("scale", "many", "-p", "x"),
        ("scale", "-1", "-p", "x"),
        ("rollback", "vX", "-p", "x"),
        ("env", "set", "NOEQUALS", "-p", "x"),
        ("projects", "update", "-p", "x"),
        ("projects", "list", "--api-url", "127.0.0.1:8000"),
    ],
)
def test_usage_errors_exit_2(cli: Cli, args: tuple[str, ...]) -> None:
    """Unknown commands/options and bad arguments → exit 2, before any request."""
    cli.login()

    result = cli(*args)

    assert result.code == 2
    _one_clean_line(result.stderr)
    assert cli.gateway.requests == []


def test_rate_limit_says_when_to_retry(cli: Cli) -> None:
    """A 429 → exit 1 (other) and the Retry-After delay."""

    def throttled(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            429,
            json={"title": "Too Many Requests", "status": 429, "detail": "too many attempts"},
            headers={"retry-after": "30", "content-type": "application/problem+json"},
        )

    cli.gateway.handle = throttled  # type: ignore[method-assign,assignment]

    result = cli("login", "--email", "a@b.c", "--password-stdin", stdin="pw\n")

    assert result.code == 1
    assert "retry in 30 s" in _one_clean_line(result.stderr)


def test_a_non_json_error_page_still_renders_one_line(cli: Cli) -> None:
    """A proxy's HTML 502 page → exit 6 with the status reason, no traceback."""
    cli.login()
    cli.gateway.handle = lambda request: httpx.Response(502, text="<html>bad</html>")  # type: ignore[method-assign,assignment,return-value]

    result = cli("projects", "list")

    assert result.code == 6
    assert "bad gateway" in _one_clean_line(result.stderr).lower()


def test_unexpected_answer_is_an_error_not_a_traceback(cli: Cli) -> None:
    """An answer that breaks the contract → exit 1 naming the route."""
    cli.login()
    cli.gateway.handle = lambda request: httpx.Response(200, json={"nope": 1})  # type: ignore[method-assign,assignment,return-value]

    result = cli("whoami")

    assert result.code == 1
    assert "/api/v1/me" in _one_clean_line(result.stderr)


def test_help_documents_exit_codes(cli: Cli) -> None:
    result = cli("--help")

    assert result.code == 0
    assert max(len(line) for line in result.stdout.splitlines()) <= 100  # readable in a pipe
    for code in ("2: usage", "3: authentication", "4: not found", "5: invalid input", "6:"):
        assert code in result.stdout


def test_exit_codes_are_the_documented_ones() -> None:
    """The codes scripts branch on never move."""
    assert [int(code) for code in Exit] == [0, 1, 2, 3, 4, 5, 6, 130]
    assert [code.name for code in Exit] == [
        "OK", "OTHER", "USAGE", "AUTH", "NOT_FOUND", "INVALID", "UNAVAILABLE", "INTERRUPTED",
    ]  # fmt: skip
