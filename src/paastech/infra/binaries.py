"""Go programs built once per machine from the Go module proxy, cached outside the repo (Fabio).

A binary lives at ``~/.cache/paastech/bin/<name>-<version>``: the version is in the name, so
a version bump builds anew and an unchanged one is a lookup. Builds go through a small wrapper
module (``go install pkg@version`` asks the proxy for the module's version list to look up
deprecations, which this machine's proxy refuses, and a wrapper can also repeat ``replace``
directives that ``go install`` ignores).
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from paastech.errors import ProvisionError
from paastech.infra.process import run

FABIO_MODULE = "github.com/fabiolb/fabio"


def cache_root() -> Path:
    """``~/.cache/paastech``: binaries, image tarballs and build dirs shared by every checkout."""
    return Path.home() / ".cache" / "paastech"


def binary_path(name: str, version: str) -> Path:
    """Where the cached build of ``name`` at ``version`` lives (it may not exist yet)."""
    return cache_root() / "bin" / f"{name}-{version}"


@dataclass(frozen=True)
class BuildAttempt:
    """One way of running ``go build``: extra flags and environment."""

    label: str
    flags: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)


DEFAULT_ATTEMPTS = (BuildAttempt("default"),)


@dataclass(frozen=True)
class GoProgram:
    """A Go main package to build at a version through a wrapper module."""

    name: str
    version: str
    module: str
    package: str
    replaces: tuple[tuple[str, str], ...] = ()
    requires: tuple[tuple[str, str], ...] = ()

    def go_mod(self) -> str:
        """The wrapper module's go.mod."""
        lines = [f"module paastech.local/{self.name}build", "", "go 1.21", "", "require ("]
        lines.append(f"\t{self.module} v{self.version}")
        lines += [f"\t{mod} {ver}" for mod, ver in self.requires]
        lines.append(")")
        if self.replaces:
            lines += ["", "replace ("]
            lines += [f"\t{old} => {new}" for old, new in self.replaces]
            lines.append(")")
        return "\n".join(lines) + "\n"

    def tools_go(self) -> str:
        """A file that imports the main package so the module graph includes it."""
        return f'//go:build tools\n\npackage tools\n\nimport _ "{self.package}"\n'


@contextmanager
def build_lock(name: str) -> Iterator[None]:
    """Serialise builds of one program across processes (dev stack and tests at once)."""
    lock_path = cache_root() / "locks" / f"{name}.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def go_build(
    program: GoProgram,
    environ: Mapping[str, str],
    attempts: Sequence[BuildAttempt] = DEFAULT_ATTEMPTS,
    timeout: float = 1800.0,
) -> Path:
    """Build ``program`` into the cache unless it is there already.

    Each attempt runs in turn until one succeeds; a failure of all of them raises with the
    exact output of each.

    Raises:
        ProvisionError: ``go`` is missing, or every attempt failed.
    """
    target = binary_path(program.name, program.version)
    if target.exists():
        return target
    go = shutil.which("go", path=environ.get("PATH"))
    if go is None:
        raise ProvisionError(
            f"cannot build {program.name} {program.version}: the go toolchain is not on PATH"
        )
    with build_lock(program.name):
        if target.exists():
            return target
        work = cache_root() / "build" / f"{program.name}-{program.version}"
        work.mkdir(parents=True, exist_ok=True)
        (work / "go.mod").write_text(program.go_mod())
        (work / "tools.go").write_text(program.tools_go())
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        failures: list[str] = []
        for attempt in attempts:
            env = {**environ, "GOFLAGS": "-mod=mod -buildvcs=false", **attempt.env}
            proc = run(
                [go, "build", *attempt.flags, "-o", str(partial), program.package],
                cwd=work,
                env=env,
                timeout=timeout,
                check=False,
            )
            if proc.returncode == 0:
                partial.replace(target)
                return target
            output = (proc.stdout + proc.stderr).strip()
            failures.append(f"--- go build ({attempt.label}) exited {proc.returncode}:\n{output}")
        raise ProvisionError(
            f"cannot build {program.name} v{program.version} from the Go module proxy:\n"
            + "\n".join(failures)
        )


def fabio_program(version: str) -> GoProgram:
    """Fabio at ``version`` (MIT; the main package is the module root)."""
    return GoProgram("fabio", version, FABIO_MODULE, FABIO_MODULE)


def ensure_fabio_binary(version: str, environ: Mapping[str, str]) -> Path:
    """``FABIO_BIN`` when set, else the cached build of Fabio ``version`` (built if missing).

    Raises:
        ProvisionError: ``FABIO_BIN`` points nowhere, or the build failed.
    """
    override = environ.get("FABIO_BIN")
    if override:
        path = Path(override)
        if not os.access(path, os.X_OK):
            raise ProvisionError(f"FABIO_BIN={override} is not an executable file")
        return path
    return go_build(fabio_program(version), environ)
