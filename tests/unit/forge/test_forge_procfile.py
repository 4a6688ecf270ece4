"""Procfile parsing follows Heroku's format, and the plan keeps what detection found."""

from __future__ import annotations

import pytest

from paastech.forge.detect import Kind, SourceTree, detect
from paastech.forge.procfile import ProcfileError, parse_procfile, strip_comment

PARSED = [
    ("one web line", "web: python app.py\n", {"web": "python app.py"}),
    (
        "comments, blank lines and any process names",
        "# the app\n\nweb: gunicorn app:app\n   \n# background\nworker: celery -A x\n"
        "release: ./migrate\nclock-2_b: ./tick\n",
        {
            "web": "gunicorn app:app",
            "worker": "celery -A x",
            "release": "./migrate",
            "clock-2_b": "./tick",
        },
    ),
    ("inline comment", "web: python app.py   # serves HTTP\n", {"web": "python app.py"}),
    ("hash inside quotes stays", "web: echo '#1' \"a # b\"\n", {"web": "echo '#1' \"a # b\""}),
    ("hash inside a word stays", "web: ./run --tag=a#b\n", {"web": "./run --tag=a#b"}),
    ("escaped hash stays", "web: echo \\# x\n", {"web": "echo \\# x"}),
    ("no space after the colon", "web:npm start\n", {"web": "npm start"}),
    ("space before the colon", "web : npm start\n", {"web": "npm start"}),
    (
        "colons in the command",
        "web: gunicorn -b 0.0.0.0:$PORT app:app",
        {"web": "gunicorn -b 0.0.0.0:$PORT app:app"},
    ),
    ("CRLF line ends", "web: a\r\nworker: b\r\n", {"web": "a", "worker": "b"}),
    ("only comments", "# nothing yet\n", {}),
]


@pytest.mark.parametrize(("what", "text", "expected"), PARSED, ids=[p[0] for p in PARSED])
def test_procfile_lines_parse_like_heroku(what: str, text: str, expected: dict[str, str]) -> None:
    """Each process type maps to its command with comments and blank lines dropped."""
    assert parse_procfile(text) == expected


REFUSED = [
    ("not a process line", "web python app.py\n", "line 1: expected 'type: command'"),
    ("bad process name", "web.1: x\n", "line 1"),
    ("empty command", "\nworker:   # nothing\n", "line 2: the worker: line has no command"),
    ("duplicate", "web: a\nweb: b\n", "line 2: process type web defined twice"),
]


@pytest.mark.parametrize(("what", "text", "message"), REFUSED, ids=[r[0] for r in REFUSED])
def test_procfile_errors_name_the_line(what: str, text: str, message: str) -> None:
    """A broken Procfile fails with the line number and what is wrong with it."""
    with pytest.raises(ProcfileError) as caught:
        parse_procfile(text)
    assert message in caught.value.message


def test_strip_comment_keeps_a_command_without_one() -> None:
    """A command with no comment comes back unchanged (trimmed)."""
    assert strip_comment("  npm start ") == "npm start"


def test_the_plan_records_kind_runtime_port_health_and_process_types() -> None:
    """What the Build row keeps: everything the release needs from detection."""
    source = SourceTree(
        files=frozenset({"requirements.txt", "app.py", "Procfile", "paastech.toml"}),
        contents={
            "Procfile": b"web: python app.py  # http\nworker: python w.py\n",
            "paastech.toml": b'health_path = "/health"\nport = 9000\n',
        },
    )
    plan = detect(source)
    assert plan.kind is Kind.PYTHON
    assert plan.command == "python app.py"
    assert plan.record() == {
        "kind": "python",
        "runtime": "python",
        "port": 9000,
        "health_path": "/health",
        "command": "python app.py",
        "handler": "",
        "processes": {"web": "python app.py", "worker": "python w.py"},
    }


def test_a_dockerfile_plan_still_records_the_procfile() -> None:
    """A Dockerfile app keeps its Procfile's process types too."""
    source = SourceTree(
        files=frozenset({"Dockerfile", "Procfile"}),
        contents={"Procfile": b"web: ./serve\nworker: ./work\n"},
    )
    record = detect(source).record()
    assert (record["kind"], record["processes"]) == (
        "dockerfile",
        {"web": "./serve", "worker": "./work"},
    )
