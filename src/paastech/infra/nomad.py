"""Nomad v1.6.5 (the last MPL-2.0 release): obtained, verified, built once, and its dev agent.

Never a newer Nomad: later releases are not open source. The Go module proxy does not serve
``github.com/hashicorp/nomad`` itself (it serves every dependency), so the binary comes, in
this order, from:

1. ``NOMAD_BIN`` (must report v1.6.5);
2. a ``nomad`` on ``PATH`` reporting v1.6.5;
3. the cached build ``~/.cache/paastech/bin/nomad-1.6.5-<sha256 prefix of the tarball>``;
4. a build from the source tarball (``nomad.source_tarball``, by default
   ``../shared/nomad/nomad-1.6.5-src.tar.xz`` beside the repository), verified against the
   ``SHA256SUMS`` beside it before anything is extracted.

The dev agent runs with ACLs on: its management token is generated once into the state dir
(0600) and, because a ``-dev`` agent keeps its state in memory, bootstrapped again with that
same token at every start.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import tarfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path

from paastech.errors import ProvisionError
from paastech.infra.binaries import build_lock, cache_root
from paastech.infra.process import Running, launch, run, wait_until
from paastech.settings import NomadSettings

NOMAD_VERSION = "1.6.5"
TARBALL_NAME = f"nomad-{NOMAD_VERSION}-src.tar.xz"
PROGRESS_SECONDS = 30.0
"""The build prints its phase and elapsed time at least this often (it takes minutes)."""

_VERSION_RE = re.compile(r"Nomad v(\d+\.\d+\.\d+)")
REPO_ROOT = Path(__file__).resolve().parents[3]

Say = Callable[[str], None]


def _stderr(line: str) -> None:
    print(f"[nomad] {line}", flush=True)


def default_tarball() -> Path:
    """``../shared/nomad/nomad-1.6.5-src.tar.xz`` relative to the repository root."""
    return REPO_ROOT.parent / "shared" / "nomad" / TARBALL_NAME


def tarball_path(nomad: NomadSettings) -> Path:
    """The source tarball the settings name (relative paths are from the repository root)."""
    if not nomad.source_tarball:
        return default_tarball()
    path = Path(nomad.source_tarball).expanduser()
    return path if path.is_absolute() else (REPO_ROOT / path).resolve()


def reported_version(binary: str | Path) -> str | None:
    """The version ``nomad version`` prints, or None when it is not a Nomad binary."""
    try:
        proc = run([str(binary), "version"], check=False, timeout=30)
    except ProvisionError:
        return None
    match = _VERSION_RE.search(proc.stdout)
    return match.group(1) if match else None


def expected_sha256(tarball: Path) -> str:
    """The tarball's sha256 as listed in ``SHA256SUMS`` beside it.

    Raises:
        ProvisionError: No ``SHA256SUMS``, or it does not list the tarball.
    """
    sums = tarball.with_name("SHA256SUMS")
    try:
        text = sums.read_text()
    except OSError as exc:
        raise ProvisionError(f"{sums}: cannot read the checksum list ({exc.strerror})") from exc
    for line in text.splitlines():
        digest, _, name = line.strip().partition(" ")
        if name.strip().lstrip("*") == tarball.name and re.fullmatch(r"[0-9a-f]{64}", digest):
            return digest
    raise ProvisionError(f"{sums} does not list {tarball.name}")


def file_sha256(path: Path) -> str:
    """The sha256 of ``path``'s content, read in 1 MiB pieces."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def verify_tarball(tarball: Path) -> str:
    """Check ``tarball`` against ``SHA256SUMS``; its sha256 when it matches.

    Raises:
        ProvisionError: The tarball is missing, unlisted, or its content does not match.
    """
    if not tarball.is_file():
        raise ProvisionError(f"{tarball}: no such file")
    expected = expected_sha256(tarball)
    actual = file_sha256(tarball)
    if not secrets.compare_digest(actual, expected):
        raise ProvisionError(
            f"{tarball} does not match SHA256SUMS (expected {expected}, got {actual}): "
            "the tarball is corrupt or has been tampered with; refusing to build it"
        )
    return actual


def cached_binary(sha256: str, version: str = NOMAD_VERSION) -> Path:
    """Where the build of the tarball with ``sha256`` is cached."""
    return cache_root() / "bin" / f"nomad-{version}-{sha256[:12]}"


def no_nomad_message(tarball: Path, reason: str) -> str:
    """The one message listing every way to provide Nomad."""
    return (
        f"Nomad v{NOMAD_VERSION} is not available ({reason}). Provide it one of three ways:\n"
        f"  1. NOMAD_BIN=/path/to/nomad (a binary reporting Nomad v{NOMAD_VERSION});\n"
        f"  2. a nomad v{NOMAD_VERSION} on PATH;\n"
        f"  3. the source tarball {tarball} with its SHA256SUMS beside it (setting "
        "nomad.source_tarball), built once with the machine's Go and cached."
    )


def ensure_nomad_binary(
    nomad: NomadSettings, environ: Mapping[str, str], say: Say = _stderr
) -> Path:
    """The Nomad v1.6.5 binary to run: ``NOMAD_BIN``, ``PATH``, the cache, else a build.

    Raises:
        ProvisionError: ``NOMAD_BIN`` is not v1.6.5, the tarball does not verify, the build
            failed, or there is no way to get Nomad (the message lists the three ways).
    """
    version = nomad.version
    if version != NOMAD_VERSION:
        raise ProvisionError(
            f"nomad.version={version}: only Nomad v{NOMAD_VERSION} (MPL-2.0) is supported"
        )
    override = environ.get("NOMAD_BIN")
    if override:
        found = reported_version(override) if os.access(override, os.X_OK) else None
        if found != version:
            raise ProvisionError(
                f"NOMAD_BIN={override} reports {found or 'no Nomad version'}, need v{version}"
            )
        return Path(override)
    for folder in environ.get("PATH", "").split(os.pathsep):
        candidate = Path(folder) / "nomad"
        if folder and os.access(candidate, os.X_OK) and reported_version(candidate) == version:
            return candidate
    tarball = tarball_path(nomad)
    if not tarball.is_file():
        raise ProvisionError(no_nomad_message(tarball, f"{tarball} does not exist"))
    try:
        sha = expected_sha256(tarball)
    except ProvisionError as exc:
        raise ProvisionError(no_nomad_message(tarball, exc.message)) from exc
    target = cached_binary(sha, version)
    if target.exists():
        return target
    return build_from_tarball(tarball, target, environ, say)


def build_from_tarball(
    tarball: Path, target: Path, environ: Mapping[str, str], say: Say = _stderr
) -> Path:
    """Verify, extract and ``go build`` the tarball into ``target`` (once, under a lock).

    Raises:
        ProvisionError: The tarball does not verify, ``go`` is missing, or the build failed.
    """
    go = shutil.which("go", path=environ.get("PATH"))
    with build_lock("nomad"):
        if target.exists():
            return target
        say(f"verifying {tarball} against SHA256SUMS")
        verify_tarball(tarball)
        if go is None:
            raise ProvisionError(
                no_nomad_message(tarball, "the go toolchain is not on PATH to build the tarball")
            )
        work = cache_root() / "build" / target.name
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        started = time.monotonic()
        say(f"extracting {tarball.name}")
        with tarfile.open(tarball, "r:xz") as archive:
            archive.extractall(work, filter="data")
        tops = [p for p in work.iterdir() if p.is_dir()]
        source = tops[0] if len(tops) == 1 else work
        partial = target.with_name(target.name + ".partial")
        target.parent.mkdir(parents=True, exist_ok=True)
        say(
            f"building Nomad v{NOMAD_VERSION} with {go} "
            "(module downloads, then 4-8 min of compiling on 2 cores)"
        )
        _go_build(go, source, partial, environ=environ, say=say, started=started)
        found = reported_version(partial)
        if found != NOMAD_VERSION:
            partial.unlink(missing_ok=True)
            raise ProvisionError(f"the build reports {found or 'no version'}, not v{NOMAD_VERSION}")
        partial.replace(target)
        shutil.rmtree(work, ignore_errors=True)
        say(f"built {target} in {_elapsed(started)}")
        return target


def _elapsed(started: float) -> str:
    seconds = int(time.monotonic() - started)
    return f"{seconds // 60}m{seconds % 60:02d}s"


def _go_build(
    go: str,
    source: Path,
    output: Path,
    *,
    environ: Mapping[str, str],
    say: Say,
    started: float,
) -> None:
    log_path = output.with_name(output.name + ".log")
    env = {**environ, "GOFLAGS": "-mod=mod -buildvcs=false"}
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [go, "build", "-trimpath", "-o", str(output), "."],
            cwd=source,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        try:
            while True:
                try:
                    proc.wait(timeout=PROGRESS_SECONDS)
                    break
                except subprocess.TimeoutExpired:
                    say(f"{_build_phase(log_path)}, {_elapsed(started)} elapsed")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    if proc.returncode != 0:
        tail = log_path.read_text(errors="replace").strip().splitlines()[-25:]
        raise ProvisionError(
            f"go build of Nomad v{NOMAD_VERSION} exited {proc.returncode}:\n" + "\n".join(tail)
        )
    log_path.unlink(missing_ok=True)


def _build_phase(log_path: Path) -> str:
    """What the build is doing, judged from go's output so far."""
    try:
        lines = log_path.read_text(errors="replace").splitlines()
    except OSError:
        lines = []
    downloads = sum(1 for line in lines if line.startswith("go: downloading"))
    if lines and lines[-1].startswith("go: downloading"):
        return f"downloading modules ({downloads} so far)"
    return f"compiling ({downloads} modules downloaded)"


# --- the dev agent -------------------------------------------------------------------------


def token_path(state_dir: Path) -> Path:
    """The dev agent's management token (0600): the platform's processes read it."""
    return state_dir / "nomad" / "management.token"


def management_token(state_dir: Path) -> str:
    """The management token, generated once (a UUID, as Nomad's secret IDs are)."""
    path = token_path(state_dir)
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    token = str(uuid.uuid4())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(token + "\n")
    return token


def agent_config(
    state_dir: Path, docker_auth: Path | None = None, ports: tuple[int, int, int] | None = None
) -> str:
    """HCL for the dev agent: loopback only, ACLs on, docker with host networking, raw_exec.

    ``ports`` (http, rpc, serf) runs a second agent beside the main one; it then leaves
    containers it does not know alone (they are the main agent's).
    """
    data_dir = state_dir / "nomad" / "data"
    auth = f'\n    auth {{\n      config = "{docker_auth}"\n    }}' if docker_auth else ""
    port_block = ""
    dangling = ""
    if ports:
        port_block = (
            f"\nports {{\n  http = {ports[0]}\n  rpc  = {ports[1]}\n  serf = {ports[2]}\n}}\n"
        )
        dangling = "\n      dangling_containers {\n        enabled = false\n      }"
    return f"""\
bind_addr = "127.0.0.1"
data_dir  = "{data_dir}"
{port_block}
advertise {{
  http = "127.0.0.1"
  rpc  = "127.0.0.1"
  serf = "127.0.0.1"
}}

acl {{
  enabled = true
}}

limits {{
  # Every process of the dev profile (the platform's, its tests, the CLI) reaches the agent
  # from 127.0.0.1, so the per-address default of 100 connections is shared by them all.
  http_max_conns_per_client = 1000
}}

client {{
  network_interface = "lo"
}}

plugin "docker" {{
  config {{
    # The dev profile runs apps with network_mode = "host" (dockerd has no bridge here);
    # images come from the local registry only, pulled with its credentials.
    allow_privileged = false
    volumes {{
      enabled = true
    }}
    gc {{
      image = false{dangling}
    }}{auth}
  }}
}}

plugin "raw_exec" {{
  config {{
    enabled = true
  }}
}}
"""


def _get(address: str, path: str, token: str | None = None) -> int:
    request = urllib.request.Request(f"{address.rstrip('/')}{path}")  # noqa: S310 - loopback
    if token:
        request.add_header("X-Nomad-Token", token)
    try:
        with urllib.request.urlopen(request, timeout=2) as resp:  # noqa: S310
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (OSError, ValueError):
        return 0


def agent_answers(address: str) -> bool:
    """True when an agent has a leader (``/v1/status/leader`` needs no token)."""
    return _get(address, "/v1/status/leader") == 200


def bootstrap_acl(address: str, token: str, timeout: float = 60.0) -> None:
    """Bootstrap the agent's ACL system with ``token`` (our own, not a generated one).

    A ``-dev`` agent forgets its ACL state when it stops, so this runs at every start; an
    agent that already accepts ``token`` is left as it is.

    Raises:
        ProvisionError: The agent was bootstrapped with another token, or never accepted it.
    """
    deadline = time.monotonic() + timeout
    body = json.dumps({"BootstrapSecret": token}).encode()
    last = ""
    while time.monotonic() < deadline:
        if _get(address, "/v1/acl/token/self", token) == 200:
            return
        request = urllib.request.Request(  # noqa: S310 - loopback
            f"{address.rstrip('/')}/v1/acl/bootstrap", data=body, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=5):  # noqa: S310
                pass
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace").strip()
            if exc.code == 400 and "already done" in detail.lower():
                raise ProvisionError(
                    f"the Nomad agent at {address} was bootstrapped with another token; "
                    "stop it or point nomad.token_file at its management token"
                ) from exc
            last = f"status {exc.code}: {detail[:200]}"
        except OSError as exc:
            last = str(exc)
        time.sleep(0.5)
    raise ProvisionError(f"Nomad ACL bootstrap at {address} did not succeed: {last}")


def ensure_nomad_agent(
    state_dir: Path,
    nomad: NomadSettings,
    environ: Mapping[str, str],
    *,
    docker_auth: Path | None = None,
    ports: tuple[int, int, int] | None = None,
    timeout: float = 90.0,
    say: Say = _stderr,
) -> Running:
    """Start ``nomad agent -dev`` on 127.0.0.1 with ACLs on, unless an agent already answers.

    Either way the agent ends up accepting the state dir's management token.

    Raises:
        ProvisionError: No Nomad v1.6.5 binary could be had, or the agent did not come up.
    """
    token = management_token(state_dir)
    if agent_answers(nomad.address):
        bootstrap_acl(nomad.address, token)
        return Running("nomad", nomad.address, started_here=False)
    binary = ensure_nomad_binary(nomad, environ, say)
    config_path = state_dir / "nomad" / "agent.hcl"
    config_path.parent.mkdir(parents=True, exist_ok=True)
    config_path.write_text(agent_config(state_dir, docker_auth, ports))
    running = launch(
        "nomad",
        [str(binary), "agent", "-dev", "-bind", "127.0.0.1", "-config", str(config_path)],
        state_dir=state_dir,
        url=nomad.address,
        ready=lambda: agent_answers(nomad.address),
        environ=environ,
        timeout=timeout,
        what="nomad agent",
        stop_timeout=30,
    )
    try:
        bootstrap_acl(nomad.address, token)
        wait_until(
            lambda: _drivers_healthy(nomad.address, token),
            what="nomad client drivers (docker, raw_exec)",
            timeout=timeout,
            log_path=state_dir / "logs" / "nomad.log",
        )
    except ProvisionError:
        running.stop()
        raise
    return running


def _drivers_healthy(address: str, token: str) -> bool:
    """True once the dev node is ready with the docker and raw_exec drivers healthy."""
    request = urllib.request.Request(f"{address.rstrip('/')}/v1/nodes?resources=false")  # noqa: S310
    request.add_header("X-Nomad-Token", token)
    try:
        with urllib.request.urlopen(request, timeout=2) as resp:  # noqa: S310
            nodes = json.load(resp)
    except (OSError, ValueError):
        return False
    for node in nodes:
        drivers = node.get("Drivers") or {}
        if node.get("Status") == "ready" and all(
            (drivers.get(name) or {}).get("Healthy") for name in ("docker", "raw_exec")
        ):
            return True
    return False
