"""Small helpers shared by the provisioning modules: run, wait, and started-process handles."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from paastech.errors import ProvisionError


@dataclass
class Running:
    """A component this process made sure is up; ``stop()`` stops it only if we started it."""

    name: str
    url: str
    started_here: bool
    _stop: Callable[[], None] | None = field(default=None, repr=False)
    problem: str = ""
    """Why the component is unavailable when bring-up was told to tolerate its failure."""

    @property
    def ok(self) -> bool:
        """True when the component is up (started here or found running)."""
        return not self.problem

    def stop(self) -> None:
        if self.started_here and self._stop is not None:
            self._stop()
            self._stop = None


def run(
    cmd: Sequence[str],
    *,
    check: bool = True,
    env: dict[str, str] | None = None,
    cwd: str | Path | None = None,
    timeout: float | None = None,
    user: str | None = None,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing output; a failure raises ProvisionError with its output.

    Secrets go through ``stdin``, never ``cmd``: the command line is quoted in errors.
    """
    argv = list(cmd)
    if user is not None and os.geteuid() == 0:
        argv = ["runuser", "-u", user, "--", *argv]
    try:
        proc = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            env=env,
            cwd=cwd,
            timeout=timeout,
            check=False,
            input=stdin,
        )
    except FileNotFoundError as exc:
        raise ProvisionError(f"{argv[0]}: not installed") from exc
    except subprocess.TimeoutExpired as exc:
        raise ProvisionError(f"{' '.join(argv)}: timed out after {timeout}s") from exc
    if check and proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-15:]
        raise ProvisionError(f"{' '.join(argv)} exited {proc.returncode}:\n" + "\n".join(tail))
    return proc


def spawn(
    cmd: Sequence[str],
    log_path: Path,
    *,
    env: dict[str, str] | None = None,
    cwd: str | Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start a long-running process in its own session, output appended to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        return subprocess.Popen(
            list(cmd),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )


def terminate(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM the process group, then SIGKILL it if it lingers."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=timeout)
    except ProcessLookupError:
        pass


def pidfile(state_dir: Path, name: str) -> Path:
    """Where the pid of a process the stack started is recorded (for ``infra down``)."""
    return state_dir / "run" / f"{name}.pid"


def write_pidfile(state_dir: Path, name: str, pid: int) -> None:
    """Record ``pid`` so a later ``python -m paastech.infra down`` can stop it."""
    path = pidfile(state_dir, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{pid}\n")


def stop_pidfile(state_dir: Path, name: str, timeout: float = 15.0) -> bool:
    """Stop the process group recorded under ``name``; False when nothing was recorded."""
    path = pidfile(state_dir, name)
    try:
        pid = int(path.read_text().strip())
    except (OSError, ValueError):
        return False
    path.unlink(missing_ok=True)
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    return True


def http_ok(url: str, timeout: float = 2.0) -> bool:
    """True when a GET of ``url`` answers 2xx (loopback readiness checks)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - http(s) only
            return 200 <= int(resp.status) < 300
    except (OSError, ValueError):
        return False


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections at host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_until(
    check: Callable[[], bool],
    *,
    what: str,
    timeout: float,
    log_path: Path | None = None,
    proc: subprocess.Popen[bytes] | None = None,
) -> None:
    """Poll ``check`` until true; on timeout or early exit raise with the log's tail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if proc is not None and proc.poll() is not None:
            raise ProvisionError(f"{what} exited with {proc.returncode}{_log_tail(log_path)}")
        time.sleep(0.1)
    raise ProvisionError(f"{what} not ready after {timeout:.0f}s{_log_tail(log_path)}")


def _log_tail(log_path: Path | None, lines: int = 20) -> str:
    if log_path is None or not log_path.exists():
        return ""
    tail = log_path.read_text(errors="replace").splitlines()[-lines:]
    return f"; last lines of {log_path}:\n" + "\n".join(tail)


def which(name: str, *extra_dirs: str) -> str | None:
    """Find an executable on PATH or in extra directories (e.g. /usr/lib/postgresql/15/bin)."""
    found = shutil.which(name)
    if found:
        return found
    for folder in extra_dirs:
        candidate = Path(folder) / name
        if candidate.exists():
            return str(candidate)
    return None


def started_process(
    state_dir: Path, name: str, url: str, proc: subprocess.Popen[bytes], stop_timeout: float = 15.0
) -> Running:
    """The handle of a process this call spawned: stopping it also forgets its pidfile."""

    def stop() -> None:
        terminate(proc, timeout=stop_timeout)
        pidfile(state_dir, name).unlink(missing_ok=True)

    return Running(name, url, started_here=True, _stop=stop)


def launch(
    name: str,
    argv: Sequence[str],
    *,
    state_dir: Path,
    url: str,
    ready: Callable[[], bool],
    environ: Mapping[str, str],
    timeout: float,
    log_name: str | None = None,
    what: str | None = None,
    stop_timeout: float = 15.0,
) -> Running:
    """Start a long-running component and wait until ``ready()``; stop it if it never is.

    Output goes to ``<state>/logs/<log_name or name>.log``; a pidfile lets
    ``python -m paastech.infra down`` stop it from another process.
    """
    log_path = state_dir / "logs" / f"{log_name or name}.log"
    proc = spawn(argv, log_path, env=dict(environ))
    write_pidfile(state_dir, name, proc.pid)
    try:
        wait_until(ready, what=what or name, timeout=timeout, log_path=log_path, proc=proc)
    except ProvisionError:
        terminate(proc)
        raise
    return started_process(state_dir, name, url, proc, stop_timeout=stop_timeout)
