"""What to build from a commit when the push is not a plain Dockerfile app. Pure.

The rules, first match wins:

1. ``Dockerfile`` -- built as it is.
2. ``paastech.toml`` with ``kind = "function"`` -- the handler (``module:function``)
   wrapped in the platform's function shim (``paastech.shim``, which ``paastech/python``
   carries as ``paastech_shim``), on ``paastech/python``.
3. A run command -- ``run`` in ``paastech.toml`` or the ``web:`` line of a ``Procfile`` --
   on the image of the detected runtime (or ``paastech/base`` when none is detected).
4. Python (``requirements.txt`` or ``pyproject.toml``): a venv with the dependencies,
   then ``python main.py``/``app.py``/``server.py`` when no run command is given.
5. Node (``package.json``): ``npm ci`` (``npm install`` without a lockfile), ``npm start``.
6. Static (``index.html``): served by Python's ``http.server`` on ``$PORT``.

The base images carry Debian's ``python3`` (no ``python`` alias); generated Python images
put a venv first on ``PATH``, so ``python`` in a run command means the venv's.
Generated images honour ``$PORT`` and ``$HOST`` (the scheduler sets ``HOST=127.0.0.1``
in the dev profile, where containers share the host's network).
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from paastech.errors import BuildFailed
from paastech.forge.procfile import WEB, ProcfileError, parse_procfile

LOOKED_FOR = (
    "Dockerfile",
    "paastech.toml",
    "Procfile",
    "requirements.txt",
    "pyproject.toml",
    "package.json",
    "index.html",
)
BASE_IMAGE = "paastech/base"
PYTHON_IMAGE = "paastech/python"
NODE_IMAGE = "paastech/node"
DEFAULT_PORT = 8080
DEFAULT_HEALTH_PATH = "/"
_HANDLER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*")
_PYTHON_ENTRYPOINTS = ("main.py", "app.py", "server.py")


class DetectionError(BuildFailed):
    """The commit holds nothing the platform knows how to build, or its config is wrong."""

    title = "nothing to build"


class Kind(StrEnum):
    DOCKERFILE = "dockerfile"
    FUNCTION = "function"
    PYTHON = "python"
    NODE = "node"
    STATIC = "static"
    COMMAND = "command"


@dataclass(frozen=True)
class SourceTree:
    """The top level of a commit: file names, directory names, a few file contents."""

    files: frozenset[str]
    directories: frozenset[str] = frozenset()
    contents: Mapping[str, bytes] = field(default_factory=dict)


@dataclass(frozen=True)
class BuildPlan:
    """How to build one commit.

    ``dockerfile`` is the generated Dockerfile, or ``None`` for the project's own.
    ``runtime`` is the detected language runtime (``python``, ``node``, ``static``, or ""),
    ``processes`` the Procfile's process types in file order (``web`` is the routed one).
    """

    kind: Kind
    description: str
    dockerfile: str | None
    port: int = DEFAULT_PORT
    health_path: str = DEFAULT_HEALTH_PATH
    command: str = ""
    handler: str = ""
    runtime: str = ""
    processes: tuple[tuple[str, str], ...] = ()

    def record(self) -> dict[str, Any]:
        """What the Build row keeps of the plan (JSON), for the release that follows."""
        return {
            "kind": str(self.kind),
            "runtime": self.runtime,
            "port": self.port,
            "health_path": self.health_path,
            "command": self.command,
            "handler": self.handler,
            "processes": dict(self.processes),
        }


@dataclass(frozen=True)
class _Config:
    kind: str = "container"
    runtime: str = ""
    run: str = ""
    port: int = DEFAULT_PORT
    health_path: str = DEFAULT_HEALTH_PATH
    handler: str = ""


def detect(tree: SourceTree) -> BuildPlan:
    """Decide how to build ``tree``.

    Raises:
        DetectionError: Nothing recognised (the message names every file looked for), or
            ``paastech.toml``/``package.json``/``Procfile`` is invalid (it says how).
    """
    config = _read_config(tree)
    processes = _procfile(tree)
    runtime = config.runtime or _runtime_of(tree)
    process_types = tuple(processes.items())
    if "Dockerfile" in tree.files:
        return BuildPlan(
            kind=Kind.DOCKERFILE,
            description="Dockerfile",
            dockerfile=None,
            port=config.port,
            health_path=config.health_path,
            runtime=runtime,
            processes=process_types,
        )
    if config.kind == "function":
        return replace(_function_plan(tree, config), runtime="python")
    if processes and WEB not in processes and not config.run:
        raise DetectionError("Procfile: no web: line (the platform runs the web process)")
    command = config.run or processes.get(WEB, "")
    if runtime == "python":
        plan = _python_plan(tree, config, command)
    elif runtime == "node":
        plan = _node_plan(tree, config, command)
    elif runtime == "static":
        plan = _static_plan(config)
    elif command:
        plan = _plan(Kind.COMMAND, "Procfile app", BASE_IMAGE, [], command=command, config=config)
    else:
        raise DetectionError(
            "no Dockerfile and nothing recognised to run; looked for " + ", ".join(LOOKED_FOR)
        )
    return replace(plan, runtime=runtime, processes=process_types)


def _read_config(tree: SourceTree) -> _Config:
    raw = tree.contents.get("paastech.toml")
    if raw is None:
        return _Config()
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise DetectionError(f"paastech.toml: invalid TOML: {exc}") from exc
    known = {"kind", "runtime", "run", "port", "health_path", "handler"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise DetectionError(f"paastech.toml: unknown key(s) {', '.join(unknown)}")
    kind = _str(data, "kind", "container")
    if kind not in {"container", "function"}:
        raise DetectionError('paastech.toml: kind must be "container" or "function"')
    runtime = _str(data, "runtime", "")
    if runtime not in {"", "python", "node", "static"}:
        raise DetectionError('paastech.toml: runtime must be "python", "node" or "static"')
    port = data.get("port", DEFAULT_PORT)
    if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
        raise DetectionError("paastech.toml: port must be an integer from 1 to 65535")
    health_path = _str(data, "health_path", DEFAULT_HEALTH_PATH)
    if not health_path.startswith("/"):
        raise DetectionError("paastech.toml: health_path must start with /")
    return _Config(
        kind=kind,
        runtime=runtime,
        run=_str(data, "run", "").strip(),
        port=port,
        health_path=health_path,
        handler=_str(data, "handler", ""),
    )


def _str(data: Mapping[str, Any], key: str, default: str) -> str:
    value = data.get(key, default)
    if not isinstance(value, str) or "\n" in value:
        raise DetectionError(f"paastech.toml: {key} must be a one-line string")
    return value


def _runtime_of(tree: SourceTree) -> str:
    if {"requirements.txt", "pyproject.toml"} & tree.files:
        return "python"
    if "package.json" in tree.files:
        return "node"
    if "index.html" in tree.files:
        return "static"
    return ""


def _procfile(tree: SourceTree) -> dict[str, str]:
    raw = tree.contents.get("Procfile")
    if raw is None:
        return {}
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DetectionError("Procfile: not UTF-8 text") from exc
    try:
        return parse_procfile(text)
    except ProcfileError as exc:
        raise DetectionError(exc.message) from exc


def _function_plan(tree: SourceTree, config: _Config) -> BuildPlan:
    if not _HANDLER.fullmatch(config.handler):
        raise DetectionError(
            'paastech.toml: a function needs handler = "module:function" (e.g. "main:handle")'
        )
    if config.runtime not in {"", "python"}:
        raise DetectionError("paastech.toml: functions run on the python runtime only")
    module_file = config.handler.partition(":")[0].split(".")[0]
    if f"{module_file}.py" not in tree.files and module_file not in tree.directories:
        raise DetectionError(
            f"paastech.toml: handler {config.handler!r} but no {module_file}.py in the repository"
        )
    lines = _python_install_lines(tree)
    lines += [
        # paastech/python carries the shim in /opt/paastech (paastech.infra.images); a .pth
        # in the venv makes it importable whatever PYTHONPATH the project's env sets.
        "RUN python -c \"import pathlib, sysconfig; pathlib.Path(sysconfig.get_path('purelib'),"
        " 'paastech_shim.pth').write_text('/opt/paastech\\n')\"",
        f"ENV PAASTECH_HANDLER={config.handler}",
    ]
    return BuildPlan(
        kind=Kind.FUNCTION,
        description=f"Python function {config.handler}",
        dockerfile=_dockerfile(PYTHON_IMAGE, lines, '["python", "-m", "paastech_shim"]', config),
        port=config.port,
        health_path=config.health_path,
        handler=config.handler,
    )


def _python_install_lines(tree: SourceTree) -> list[str]:
    lines = ["ENV VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1"]
    if "requirements.txt" in tree.files:
        # Dependencies first, code second: a code-only change reuses the dependency layer.
        lines += [
            "COPY requirements.txt /app/requirements.txt",
            "RUN python3 -m venv /opt/venv && pip install --no-cache-dir -r /app/requirements.txt",
            "COPY . /app",
        ]
    elif "pyproject.toml" in tree.files:
        lines += [
            "COPY . /app",
            "RUN python3 -m venv /opt/venv && pip install --no-cache-dir /app",
        ]
    else:
        lines += ["RUN python3 -m venv /opt/venv", "COPY . /app"]
    return lines


def _python_plan(tree: SourceTree, config: _Config, command: str) -> BuildPlan:
    if not command:
        entry = next((name for name in _PYTHON_ENTRYPOINTS if name in tree.files), None)
        if entry is None:
            raise DetectionError(
                "Python app without a web command: add a Procfile web: line, run in"
                " paastech.toml, or one of " + ", ".join(_PYTHON_ENTRYPOINTS)
            )
        command = f"python {entry}"
    return _plan(
        Kind.PYTHON,
        "Python app",
        PYTHON_IMAGE,
        _python_install_lines(tree),
        command=command,
        config=config,
    )


def _node_plan(tree: SourceTree, config: _Config, command: str) -> BuildPlan:
    raw = tree.contents.get("package.json")
    if raw is not None:
        try:
            package = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DetectionError(f"package.json: invalid JSON: {exc}") from exc
        scripts = package.get("scripts") if isinstance(package, dict) else None
        has_start = isinstance(scripts, dict) and isinstance(scripts.get("start"), str)
        if not command and not has_start and "server.js" not in tree.files:
            raise DetectionError(
                'package.json: no "start" script and no server.js (npm start needs one)'
            )
    install = "npm ci --omit=dev" if "package-lock.json" in tree.files else "npm install"
    lines = [
        "ENV NODE_ENV=production",
        "COPY package*.json /app/",
        f"RUN cd /app && {install} --no-audit --no-fund",
        "COPY . /app",
    ]
    return _plan(
        Kind.NODE, "Node.js app", NODE_IMAGE, lines, command=command or "npm start", config=config
    )


def _static_plan(config: _Config) -> BuildPlan:
    command = 'python3 -m http.server "$PORT" --bind "${HOST:-0.0.0.0}" --directory /app'
    return _plan(
        Kind.STATIC, "Static site", PYTHON_IMAGE, ["COPY . /app"], command=command, config=config
    )


def _plan(
    kind: Kind,
    description: str,
    image: str,
    lines: list[str],
    *,
    command: str,
    config: _Config,
) -> BuildPlan:
    cmd = json.dumps(["/bin/sh", "-c", f"exec {command}"])
    return BuildPlan(
        kind=kind,
        description=description,
        dockerfile=_dockerfile(image, lines, cmd, config),
        port=config.port,
        health_path=config.health_path,
        command=command,
    )


def _dockerfile(image: str, lines: list[str], cmd: str, config: _Config) -> str:
    body = "\n".join(lines)
    return (
        "# Generated by PaaSTech; add a Dockerfile to the repository to take over.\n"
        f"FROM {image}\n"
        "WORKDIR /app\n"
        f"ENV PORT={config.port}\n"
        f"{body}\n"
        f"EXPOSE {config.port}\n"
        f"CMD {cmd}\n"
    )
