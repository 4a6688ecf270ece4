"""The forge accepts exactly the two git commands git sends, for a valid project name."""

from __future__ import annotations

import pytest

from paastech.errors import InvalidInput
from paastech.forge.commands import GitCommand, Service, is_project_name, parse_command

ACCEPTED = [
    ("git-receive-pack 'hello.git'", Service.RECEIVE_PACK, "hello"),
    ("git-receive-pack '/hello.git'", Service.RECEIVE_PACK, "hello"),
    ("git-receive-pack 'hello'", Service.RECEIVE_PACK, "hello"),
    ("git-receive-pack hello.git", Service.RECEIVE_PACK, "hello"),
    ("git-receive-pack /hello", Service.RECEIVE_PACK, "hello"),
    ('git-receive-pack "hello.git"', Service.RECEIVE_PACK, "hello"),
    ("git-upload-pack 'my-app-2.git'", Service.UPLOAD_PACK, "my-app-2"),
    ("git-upload-pack '/abc'", Service.UPLOAD_PACK, "abc"),
    ("git-upload-pack 'a" + "b" * 38 + "c.git'", Service.UPLOAD_PACK, "a" + "b" * 38 + "c"),
]


@pytest.mark.parametrize(("command", "service", "project"), ACCEPTED)
def test_git_commands_name_their_service_and_project(
    command: str, service: Service, project: str
) -> None:
    """The forms git uses for ssh:// and scp-like remotes are all understood."""
    assert parse_command(command) == GitCommand(service=service, project=project)


REFUSED = [
    "",
    " ",
    "git-receive-pack",
    "git-receive-pack ",
    "git-receive-pack ''",
    "git-receive-pack '../x.git'",
    "git-receive-pack '/../x.git'",
    "git-receive-pack 'a/../../b.git'",
    "git-receive-pack 'x/y.git'",
    "git-receive-pack '//hello.git'",
    "git-receive-pack '~/hello.git'",
    "git-receive-pack '~hello.git'",
    "git-receive-pack 'hello.git; touch /tmp/x'",
    "git-receive-pack 'hello.git'; touch /tmp/x",
    "git-receive-pack 'hello.git' && id",
    "git-receive-pack '$(id)'",
    "git-receive-pack '`id`'",
    "git-receive-pack $(id)",
    "git-receive-pack 'hello.git' 'other.git'",
    "git-receive-pack 'hello.git'\n",
    "git-receive-pack 'hello.git'\nid",
    "git-receive-pack\t'hello.git'",
    "git-receive-pack  'hello.git'",
    " git-receive-pack 'hello.git'",
    "git-receive-pack 'hello.git' ",
    "git-receive-pack 'hello.git",
    "git-receive-pack hello.git'",
    "git-receive-pack 'hello.git\"",
    "git-receive-pack 'HELLO.git'",
    "git-receive-pack 'hello.GIT'",
    "git-receive-pack 'hello.git.git'",
    "git-receive-pack 'he'",
    "git-receive-pack '-hello.git'",
    "git-receive-pack 'hello-.git'",
    "git-receive-pack '9hello.git'",
    "git-receive-pack 'hel_lo.git'",
    "git-receive-pack 'hel lo.git'",
    "git-receive-pack 'h\u00e9llo.git'",
    "git-receive-pack 'hello\x00.git'",
    "git-receive-pack '--upload-pack=id'",
    "git-receive-pack 'a" + "b" * 39 + "c.git'",
    "git receive-pack 'hello.git'",
    "git-receive-pack.exe 'hello.git'",
    "GIT-RECEIVE-PACK 'hello.git'",
    "git-upload-archive 'hello.git'",
    "git-shell -c \"git-receive-pack 'hello.git'\"",
    "sh -c 'git-receive-pack hello.git'",
    "scp -t /tmp",
    "scp -f hello.git",
    "rsync --server . /tmp",
    "id",
    "/usr/bin/git-receive-pack 'hello.git'",
    "env GIT_DIR=/ git-receive-pack 'hello.git'",
]


@pytest.mark.parametrize("command", REFUSED)
def test_anything_else_is_refused_without_echoing_it(command: str) -> None:
    """Hostile or unknown commands raise InvalidInput whose message never repeats the input."""
    with pytest.raises(InvalidInput) as caught:
        parse_command(command)
    assert caught.value.message == (
        "only git-receive-pack and git-upload-pack '<project>.git' are accepted"
    )


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("abc", True),
        ("my-app", True),
        ("a1", False),
        ("ab-", False),
        ("1ab", False),
        ("a" * 40, True),
        ("a" * 41, False),
        ("a.b", False),
        ("ABC", False),
    ],
)
def test_project_names_are_dns_labels(name: str, valid: bool) -> None:
    """Names become host names, so only lowercase DNS labels of 3 to 40 characters pass."""
    assert is_project_name(name) is valid


def test_services_map_to_git_subcommands() -> None:
    """The service runs as the git subcommand of the same name."""
    assert Service.RECEIVE_PACK.git_subcommand == "receive-pack"
    assert Service.UPLOAD_PACK.git_subcommand == "upload-pack"
