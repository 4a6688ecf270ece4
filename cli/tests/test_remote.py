"""Which project a directory deploys to, from its `paastech` git remote."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Cli

from paastech_cli.remote import RemoteResult, add_remote, project_from_git, project_from_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("ssh://git@127.0.0.1:2222/hello.git", "hello"),
        ("ssh://git@paas.example.com:2222/my-app.git", "my-app"),
        ("ssh://git@paas.example.com/my-app.git", "my-app"),
        ("ssh://git@127.0.0.1:2222/hello", "hello"),
        ("ssh://git@127.0.0.1:2222/hello.git/", "hello"),
        ("git@paas.example.com:hello.git", "hello"),
        ("  ssh://git@127.0.0.1:2222/hello.git\n", "hello"),
        ("https://github.com/someone/hello.git", None),
        ("ssh://git@127.0.0.1:2222/Hello.git", None),
        ("ssh://git@127.0.0.1:2222/", None),
        ("", None),
    ],
)
def test_project_name_is_read_from_the_forge_remote_url(url: str, expected: str | None) -> None:
    """The forge URL form ssh://git@HOST:PORT/NAME.git names the project; other URLs do not."""
    assert project_from_url(url) == expected


def test_project_is_inferred_from_the_paastech_remote_of_the_cwd(
    cli: Cli, git_repo: Callable[..., Path]
) -> None:
    """Inside a repo with a `paastech` remote, commands act on that project without -p."""
    cli.login()
    cli.gateway.add_project("ada@example.com", "hello")
    git_repo("ssh://git@127.0.0.1:2222/hello.git")
    (cli.cwd / "sub").mkdir()
    cli.cwd = cli.cwd / "sub"  # a subdirectory of the repository still knows its remote

    result = cli("releases", "--json")

    assert result.code == 0, result.stderr
    assert "GET /api/v1/projects/hello/releases" in cli.gateway.paths()


def test_project_flag_wins_over_the_remote(cli: Cli, git_repo: Callable[..., Path]) -> None:
    """--project/-p overrides the remote."""
    cli.login()
    cli.gateway.add_project("ada@example.com", "other")
    git_repo("ssh://git@127.0.0.1:2222/hello.git")

    assert cli("releases", "-p", "other").code == 0
    assert cli.gateway.paths()[-1] == "GET /api/v1/projects/other/releases"


def test_no_remote_and_no_flag_is_a_usage_error(cli: Cli, git_repo: Callable[..., Path]) -> None:
    """Without a way to know the project the command says how to give one and exits 2."""
    cli.login()
    git_repo()

    result = cli("ps")

    assert result.code == 2
    assert "--project" in result.stderr
    assert cli.gateway.requests == []


def test_add_remote_adds_once_and_never_overwrites(tmp_path: Path) -> None:
    """add_remote adds the remote, is idempotent, and leaves a foreign remote alone."""
    url = "ssh://git@127.0.0.1:2222/hello.git"
    assert add_remote(tmp_path, url) is RemoteResult.NOT_A_REPO
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)

    assert add_remote(tmp_path, url) is RemoteResult.ADDED
    assert add_remote(tmp_path, url) is RemoteResult.UNCHANGED
    assert add_remote(tmp_path, "ssh://git@elsewhere:2222/x.git") is RemoteResult.CONFLICT
    assert project_from_git(tmp_path) == "hello"


def test_projects_create_adds_the_paastech_remote_inside_a_repo(
    cli: Cli, git_repo: Callable[..., Path]
) -> None:
    """`projects create` inside a git repo prints the remote and adds it as `paastech`."""
    cli.login()
    git_repo()

    result = cli("projects", "create", "hello")

    assert result.code == 0, result.stderr
    assert "ssh://git@127.0.0.1:2222/hello.git" in result.stdout
    assert project_from_git(cli.cwd) == "hello"
    assert "git push paastech main" in result.stderr


def test_projects_create_outside_a_repo_only_prints_the_remote(cli: Cli) -> None:
    """Outside a git repo nothing is added, and the remote is still printed."""
    cli.login()

    result = cli("projects", "create", "hello", "--kind", "function")

    assert result.code == 0, result.stderr
    assert "ssh://git@127.0.0.1:2222/hello.git" in result.stdout
    assert cli.gateway.projects["hello"].kind == "function"


def test_projects_create_on_master_says_how_to_push_to_main(
    cli: Cli, git_repo: Callable[..., Path]
) -> None:
    """A repository from a plain `git init` is on `master`: the hint pushes it to `main`."""
    cli.login()
    git_repo(branch="master")

    result = cli("projects", "create", "hello")

    assert result.code == 0, result.stderr
    assert "git push paastech master:main" in result.stderr


def test_projects_create_twice_in_a_repo_keeps_the_remote_and_says_so(
    cli: Cli, git_repo: Callable[..., Path]
) -> None:
    """A remote the CLI added already is left alone, and the push command is still shown."""
    cli.login()
    git_repo(remote="ssh://git@127.0.0.1:2222/hello.git")

    result = cli("projects", "create", "hello")

    assert result.code == 0, result.stderr
    assert "already set" in result.stderr
    assert "git push paastech main" in result.stderr


def test_projects_create_outside_a_repo_says_which_remote_to_add(cli: Cli) -> None:
    """Outside a repository the user is told the exact `git remote add` to run later."""
    cli.login()

    result = cli("projects", "create", "hello")

    assert result.code == 0, result.stderr
    assert "git remote add paastech ssh://git@127.0.0.1:2222/hello.git" in result.stderr
