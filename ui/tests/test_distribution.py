"""The dashboard is its own distribution that talks HTTP only: no server code, no database."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

UI = Path(__file__).resolve().parent.parent
FORBIDDEN = ("paastech", "piccolo", "asyncpg", "litestar")


def _imported_modules() -> set[str]:
    found: set[str] = set()
    for path in (UI / "src").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module)
    return found


def test_source_imports_no_server_package() -> None:
    """Nothing under ui/src imports the server package or a database library."""
    roots = {name.split(".")[0] for name in _imported_modules()}
    assert not roots & set(FORBIDDEN), roots & set(FORBIDDEN)


def test_declares_no_server_dependency() -> None:
    """paastech-ui depends on paastech-cli (the HTTP client), never on the server package."""
    meta = tomllib.loads((UI / "pyproject.toml").read_text())["project"]
    names = {dep.split("~")[0].split(">")[0].split("=")[0].strip() for dep in meta["dependencies"]}
    assert "paastech-cli" in names
    assert not names & set(FORBIDDEN)
    assert meta["scripts"] == {"paastech-ui": "paastech_ui.main:main"}


def test_help_runs_as_a_module() -> None:
    """``python -m paastech_ui --help`` names the flags users set."""
    out = subprocess.run(
        [sys.executable, "-m", "paastech_ui", "--help"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    for flag in ("--api-url", "--host", "--port", "--state-dir"):
        assert flag in out
