"""Detection: which image a commit builds into, decided from its top-level files."""

from __future__ import annotations

import json

import pytest

from paastech.forge.detect import (
    BASE_IMAGE,
    LOOKED_FOR,
    NODE_IMAGE,
    PYTHON_IMAGE,
    DetectionError,
    Kind,
    SourceTree,
    detect,
)


def tree(*files: str, directories: tuple[str, ...] = (), **contents: str) -> SourceTree:
    """A tree of ``files``; keyword contents name files with ``_`` for ``.`` (``package_json``)."""
    named = {key.replace("_", "."): value for key, value in contents.items()}
    return SourceTree(
        files=frozenset(files) | frozenset(named),
        directories=frozenset(directories),
        contents={k: v.encode() for k, v in named.items()},
    )


CASES = [
    # (what, tree, kind, base image or None, command)
    (
        "own Dockerfile wins",
        tree("Dockerfile", "package.json", "index.html"),
        Kind.DOCKERFILE,
        None,
        "",
    ),
    (
        "Dockerfile beats a function config",
        tree("Dockerfile", "main.py", paastech_toml='kind = "function"\nhandler = "main:h"'),
        Kind.DOCKERFILE,
        None,
        "",
    ),
    (
        "python function",
        tree("main.py", paastech_toml='kind = "function"\nhandler = "main:handle"'),
        Kind.FUNCTION,
        PYTHON_IMAGE,
        "",
    ),
    (
        "function in a package",
        tree(directories=("pkg",), paastech_toml='kind = "function"\nhandler = "pkg.mod:run"'),
        Kind.FUNCTION,
        PYTHON_IMAGE,
        "",
    ),
    (
        "Procfile on python",
        tree("requirements.txt", Procfile="web: gunicorn app:app\nworker: x"),
        Kind.PYTHON,
        PYTHON_IMAGE,
        "gunicorn app:app",
    ),
    (
        "Procfile on node",
        tree("package.json", Procfile="web: node index.js"),
        Kind.NODE,
        NODE_IMAGE,
        "node index.js",
    ),
    (
        "Procfile alone",
        tree(Procfile="web: ./serve --port $PORT"),
        Kind.COMMAND,
        BASE_IMAGE,
        "./serve --port $PORT",
    ),
    (
        "run in paastech.toml beats Procfile",
        tree("requirements.txt", Procfile="web: a", paastech_toml='run = "python b.py"'),
        Kind.PYTHON,
        PYTHON_IMAGE,
        "python b.py",
    ),
    (
        "requirements.txt with app.py",
        tree("requirements.txt", "app.py"),
        Kind.PYTHON,
        PYTHON_IMAGE,
        "python app.py",
    ),
    (
        "pyproject with main.py",
        tree("pyproject.toml", "main.py", "app.py"),
        Kind.PYTHON,
        PYTHON_IMAGE,
        "python main.py",
    ),
    (
        "node with start script",
        tree(package_json=json.dumps({"scripts": {"start": "node s.js"}})),
        Kind.NODE,
        NODE_IMAGE,
        "npm start",
    ),
    (
        "node with server.js",
        tree("server.js", package_json="{}"),
        Kind.NODE,
        NODE_IMAGE,
        "npm start",
    ),
    (
        "python beats node",
        tree("requirements.txt", "app.py", "package.json"),
        Kind.PYTHON,
        PYTHON_IMAGE,
        "python app.py",
    ),
    (
        "static site",
        tree("index.html", "style.css"),
        Kind.STATIC,
        PYTHON_IMAGE,
        'python3 -m http.server "$PORT" --bind "${HOST:-0.0.0.0}" --directory /app',
    ),
    (
        "runtime forced static",
        tree("index.html", "package.json", paastech_toml='runtime = "static"'),
        Kind.STATIC,
        PYTHON_IMAGE,
        'python3 -m http.server "$PORT" --bind "${HOST:-0.0.0.0}" --directory /app',
    ),
]


@pytest.mark.parametrize(
    ("what", "source", "kind", "image", "command"), CASES, ids=[c[0] for c in CASES]
)
def test_detection_picks_the_build(
    what: str, source: SourceTree, kind: Kind, image: str | None, command: str
) -> None:
    """Each recognisable layout maps to one kind, base image and web command."""
    plan = detect(source)
    assert plan.kind is kind
    if image is None:
        assert plan.dockerfile is None
    else:
        assert plan.dockerfile is not None
        assert plan.dockerfile.splitlines()[1] == f"FROM {image}"
        assert "ENV PORT=8080" in plan.dockerfile
    assert plan.command == command
    if command:
        assert plan.dockerfile is not None
        assert f"CMD {json.dumps(['/bin/sh', '-c', 'exec ' + command])}" in plan.dockerfile


FAILURES = [
    ("nothing runnable", tree("README.md", "notes.txt"), "looked for " + ", ".join(LOOKED_FOR)),
    ("empty tree", tree(), "looked for Dockerfile"),
    ("bad toml", tree(paastech_toml="kind = "), "paastech.toml: invalid TOML"),
    ("unknown key", tree(paastech_toml='kinds = "x"'), "unknown key(s) kinds"),
    ("bad kind", tree(paastech_toml='kind = "vm"'), "kind must be"),
    ("bad runtime", tree(paastech_toml='runtime = "cobol"'), "runtime must be"),
    ("bad port", tree("index.html", paastech_toml="port = 70000"), "port must be"),
    ("bool port", tree("index.html", paastech_toml="port = true"), "port must be"),
    ("bad health path", tree("index.html", paastech_toml='health_path = "up"'), "health_path"),
    (
        "function without handler",
        tree("main.py", paastech_toml='kind = "function"'),
        'handler = "module:function"',
    ),
    (
        "function handler injection",
        tree("main.py", paastech_toml='kind = "function"\nhandler = "main:h; rm -rf /"'),
        'handler = "module:function"',
    ),
    (
        "function module missing",
        tree("app.py", paastech_toml='kind = "function"\nhandler = "main:handle"'),
        "no main.py",
    ),
    (
        "node function",
        tree("main.py", paastech_toml='kind = "function"\nhandler = "main:h"\nruntime = "node"'),
        "python runtime",
    ),
    (
        "Procfile without web",
        tree("requirements.txt", Procfile="worker: python w.py"),
        "no web: line",
    ),
    ("Procfile empty web", tree(Procfile="web:   "), "has no command"),
    ("python without entry", tree("requirements.txt", "lib.py"), "without a web command"),
    ("node without start", tree(package_json='{"name": "x"}'), 'no "start" script'),
    ("node bad json", tree(package_json="{"), "package.json: invalid JSON"),
    ("multi-line run", tree("index.html", paastech_toml='run = """a\nb"""'), "one-line string"),
]


@pytest.mark.parametrize(("what", "source", "message"), FAILURES, ids=[f[0] for f in FAILURES])
def test_detection_failures_say_what_is_wrong(what: str, source: SourceTree, message: str) -> None:
    """Nothing buildable, or a broken config, fails the build with a message that helps."""
    with pytest.raises(DetectionError) as caught:
        detect(source)
    assert message in caught.value.message


def test_python_dependencies_are_installed_before_the_code_is_copied() -> None:
    """A code-only change reuses the dependency layer (warm rebuilds stay fast)."""
    plan = detect(tree("requirements.txt", "app.py"))
    assert plan.dockerfile is not None
    lines = plan.dockerfile.splitlines()
    install = next(i for i, line in enumerate(lines) if "pip install" in line)
    assert lines.index("COPY requirements.txt /app/requirements.txt") < install
    assert lines.index("COPY . /app") > install


def test_function_plan_names_the_handler_for_the_shim() -> None:
    """The function image tells the platform shim which handler to serve."""
    plan = detect(
        tree(
            "main.py",
            paastech_toml='kind = "function"\nhandler = "main:handle"\n'
            'port = 9000\nhealth_path = "/healthz"',
        )
    )
    assert plan.handler == "main:handle"
    assert plan.port == 9000
    assert plan.health_path == "/healthz"
    assert plan.dockerfile is not None
    assert "ENV PAASTECH_HANDLER=main:handle" in plan.dockerfile
    assert 'CMD ["python", "-m", "paastech_shim"]' in plan.dockerfile


def test_node_uses_npm_ci_only_with_a_lockfile() -> None:
    """npm ci needs package-lock.json; without it the build falls back to npm install."""
    locked = detect(tree("package-lock.json", "server.js", package_json="{}"))
    loose = detect(tree("server.js", package_json="{}"))
    assert locked.dockerfile is not None
    assert "npm ci" in locked.dockerfile
    assert loose.dockerfile is not None
    assert "npm install" in loose.dockerfile


def test_commands_with_quotes_stay_one_json_argument() -> None:
    """A Procfile command with quotes cannot break out of the CMD array."""
    plan = detect(tree(Procfile='web: echo "a\\" b" \'c\''))
    assert plan.dockerfile is not None
    cmd_line = next(line for line in plan.dockerfile.splitlines() if line.startswith("CMD "))
    assert json.loads(cmd_line.removeprefix("CMD ")) == [
        "/bin/sh",
        "-c",
        'exec echo "a\\" b" \'c\'',
    ]
