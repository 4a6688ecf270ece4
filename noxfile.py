"""Developer and CI entry points: ``nox -s dev``, ``nox -s tests``, ``nox -s lint`` …

Virtualenvs are reused between runs (``.nox/``) and pip's own cache (outside the repo) keeps
wheels, so a warm run only checks what is installed. Go builds and base images are cached in
``~/.cache/paastech`` by ``paastech.infra``.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import nox
from nox.command import CommandFailed

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["lint", "tests"]
nox.options.error_on_missing_interpreters = True

ROOT = Path(__file__).resolve().parent


def _install(session: nox.Session, extras: str, *, strict: bool = True) -> None:
    """The server package (editable) and the CLI and dashboard distributions when present.

    With ``strict=False`` (the dev stack) a CLI or dashboard that does not install is reported
    and skipped, so the rest of the stack still comes up.
    """
    session.install("-e", f".[{extras}]" if extras else ".")
    for dist in ("cli", "ui"):
        if not (ROOT / dist / "pyproject.toml").exists():
            continue
        # Their own test extras (selenium for the dashboard) when the suites will run.
        spec = f"./{dist}[test]" if extras == "test" else f"./{dist}"
        try:
            session.install("-e", spec)
        except CommandFailed:
            if strict:
                raise
            session.warn(f"./{dist} did not install; continuing without it (see above)")


def _has_tests(folder: Path) -> bool:
    return folder.is_dir() and any(folder.rglob("test_*.py"))


@nox.session
def infra(session: nox.Session) -> None:
    """Provision only: system packages, Fabio and Nomad (built once, cached), base images."""
    _install(session, "")
    session.run("python", "-m", "paastech.infra", "provision")


@nox.session
def dev(session: nox.Session) -> None:
    """The whole stack plus paastech-server and the dashboard, every URL printed, until ^C."""
    _install(session, "", strict=False)
    # The dev process stops what it started on Ctrl-C: give it time (nox's default is 0.3 s).
    session.run(
        "python", "-m", "paastech.infra", "dev", interrupt_timeout=120.0, terminate_timeout=30.0
    )


@nox.session
def tests(session: nox.Session) -> None:
    """Unit, integration, end-to-end and browser tests against real components, then the
    CLI's and the dashboard's own suites.

    Exit code 5 (no tests collected) is a failure here: the suite must never pass empty.
    """
    _install(session, "test")
    session.run("python", "-m", "paastech.infra", "provision")
    # `nox -s tests -- tests/unit -k settings` runs a subset (and then skips cli/tests).
    session.run("python", "-m", "pytest", *(session.posargs or ["tests"]))
    if session.posargs:
        return
    # The CLI and the dashboard are their own distributions with their own test suites.
    for dist in ("cli", "ui"):
        if _has_tests(ROOT / dist / "tests"):
            session.run("python", "-m", "pytest", f"{dist}/tests", "--rootdir", dist)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff (check + format) on everything, mypy --strict on the server, CLI and dashboard."""
    _install(session, "lint")
    paths = ["src", "noxfile.py", "tests", "cli", "ui"]
    session.run("ruff", "check", *paths)
    session.run("ruff", "format", "--check", *paths)
    session.run("mypy", "--strict", "src/paastech")
    for dist in ("cli", "ui"):
        if (ROOT / dist / "pyproject.toml").exists():
            with session.chdir(ROOT / dist):
                session.run("mypy", "--strict", "src")


@nox.session
def bench(session: nox.Session) -> None:
    """Run every ``tests/bench/*_bench.py --out FILE`` and merge them into bench-results.json."""
    _install(session, "test")
    session.run("python", "-m", "paastech.infra", "provision")
    scripts = sorted((ROOT / "tests" / "bench").glob("*_bench.py"))
    if not scripts:
        session.warn("no benchmarks yet in tests/bench/*_bench.py")
    merged: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for script in scripts:
            out = Path(tmp) / f"{script.stem}.json"
            session.run("python", str(script), "--out", str(out))
            merged[script.stem.removesuffix("_bench")] = json.loads(out.read_text())
    target = ROOT / "bench-results.json"
    target.write_text(json.dumps(merged, indent=2, sort_keys=True) + "\n")
    session.log(f"wrote {target} ({len(merged)} benchmark files)")
