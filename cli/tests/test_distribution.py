"""`pip install ./cli` alone gives a working CLI: no server dependency, no server import."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

CLI_ROOT = Path(__file__).resolve().parent.parent
SERVER_PACKAGES = {
    "asyncpg",
    "pygit2",
    "asyncssh",
    "piccolo",
    "litestar",
    "python-nomad",
    "nomad",
    "nicegui",
    "paastech",
}


def _names(requirements: list[str]) -> set[str]:
    """Normalized distribution names of requirement strings (PEP 503)."""
    names = set()
    for requirement in requirements:
        match = re.match(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
        assert match, requirement
        names.add(re.sub(r"[-_.]+", "-", match[1]).lower())
    return names


def test_pyproject_declares_no_server_dependency() -> None:
    """cli/pyproject.toml's runtime dependencies hold none of the server's packages."""
    project = tomllib.loads((CLI_ROOT / "pyproject.toml").read_text())["project"]
    assert project["name"] == "paastech-cli"
    assert project["scripts"]["paastech"] == "paastech_cli.app:run"
    declared = _names(project["dependencies"])
    assert declared == {"cyclopts", "httpx", "msgspec", "rich"}
    assert not declared & SERVER_PACKAGES


def test_installed_metadata_declares_no_server_dependency() -> None:
    """The built distribution's metadata (Requires-Dist) agrees with pyproject.toml."""
    try:
        requires = importlib.metadata.requires("paastech-cli") or []
    except importlib.metadata.PackageNotFoundError:
        pytest.fail("paastech-cli is not installed: pip install -e ./cli")
    runtime = [r for r in requires if "extra ==" not in r]
    assert not _names(runtime) & SERVER_PACKAGES


def test_importing_every_module_pulls_in_no_server_code() -> None:
    """Every paastech_cli module imports without loading a server package."""
    modules = sorted(p.stem for p in (CLI_ROOT / "src" / "paastech_cli").glob("*.py"))
    script = (
        "import importlib, sys\n"
        f"for m in {modules!r}:\n"
        "    if m != '__main__':\n"
        "        importlib.import_module('paastech_cli.' + m)\n"
        "banned = {'asyncpg', 'pygit2', 'asyncssh', 'piccolo', 'litestar', 'nomad', 'nicegui',"
        " 'paastech'}\n"
        "print(sorted(n for n in sys.modules if n.split('.')[0] in banned))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"
