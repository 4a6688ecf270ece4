"""The image registry: Debian's ``docker-registry`` (distribution 2.8) on 127.0.0.1:5000.

Our own config file under the state dir, never the package's ``/etc`` one: loopback only,
filesystem storage in the state dir, deletes enabled so old builds can be garbage-collected,
and **htpasswd auth always on** — a Client's app or build shares the host's loopback in the
dev profile, so an anonymous push or pull must be refused. The password is generated once
into the state dir (0600); builds push and Nomad's docker driver pulls with it (a docker
``config.json`` the agent's docker plugin is pointed at).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

import bcrypt

from paastech.errors import ProvisionError
from paastech.infra.process import (
    Running,
    launch,
    port_open,
    which,
)
from paastech.settings import RegistrySettings


def password_path(state_dir: Path) -> Path:
    """The generated registry password of the dev profile (0600)."""
    return state_dir / "registry" / "password"


def _write_private(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(content)
    tmp.replace(path)


def credentials(state_dir: Path, registry: RegistrySettings) -> tuple[str, str]:
    """(user, password): the configured password, else the state dir's, generated once."""
    if registry.password:
        return registry.username, registry.password
    path = password_path(state_dir)
    if not path.exists():
        _write_private(path, secrets.token_urlsafe(24) + "\n")
    return registry.username, path.read_text().strip()


def docker_auth_path(state_dir: Path) -> Path:
    """A docker ``config.json`` holding the registry credentials (Nomad's docker plugin; its
    folder works as a ``DOCKER_CONFIG`` for the docker CLI)."""
    return state_dir / "registry" / "docker" / "config.json"


def write_docker_auth(state_dir: Path, registry: RegistrySettings) -> Path:
    """Write (0600) the docker config with this registry's basic-auth credentials."""
    user, password = credentials(state_dir, registry)
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    path = docker_auth_path(state_dir)
    _write_private(path, json.dumps({"auths": {registry.address: {"auth": token}}}) + "\n")
    return path


def _write_htpasswd(state_dir: Path, registry: RegistrySettings) -> Path:
    user, password = credentials(state_dir, registry)
    path = state_dir / "registry" / "htpasswd"
    # Reuse the existing hash while it still matches: bcrypt is slow on purpose.
    if path.exists():
        name, _, hashed = path.read_text().strip().partition(":")
        if (
            name == user
            and hashed.startswith("$2b$04$")
            and bcrypt.checkpw(password.encode(), hashed.encode())
        ):
            return path
    # The registry checks the hash on every request (a push makes a dozen): cost 4 keeps
    # that near 2 ms. The password is 24 random bytes, so no cost factor guards it anyway.
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
    _write_private(path, f"{user}:{hashed}\n")
    return path


def answers(address: str) -> bool:
    """True when a registry answers ``GET /v2/`` (401 with a Basic challenge counts)."""
    try:
        with urllib.request.urlopen(f"http://{address}/v2/", timeout=2) as resp:
            return int(resp.status) == 200
    except urllib.error.HTTPError as exc:
        return exc.code == 401 and "basic" in (exc.headers.get("WWW-Authenticate") or "").lower()
    except (OSError, ValueError):
        return False


def registry_config(state_dir: Path, address: str, htpasswd: Path | None = None) -> str:
    """The registry's YAML config: listen on ``address``, store under ``<state>/registry``."""
    storage = state_dir / "registry" / "data"
    auth = (
        f"auth:\n  htpasswd:\n    realm: paastech-registry\n    path: {htpasswd}\n"
        if htpasswd
        else ""
    )
    return f"""\
version: 0.1
log:
  level: info
  fields:
    service: registry
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: {storage}
  delete:
    enabled: true
http:
  addr: {address}
  headers:
    X-Content-Type-Options: [nosniff]
{auth}"""


def ensure_registry(
    state_dir: Path,
    registry: RegistrySettings,
    environ: Mapping[str, str],
    timeout: float = 30.0,
) -> Running:
    """Use the registry answering at ``registry.address``, or start one.

    The credentials (and the docker config Nomad pulls with) are written first either way.

    Raises:
        ProvisionError: Something else holds the port, the binary is missing, or the
            registry did not answer ``GET /v2/`` within ``timeout``.
    """
    url = f"http://{registry.address}"
    write_docker_auth(state_dir, registry)
    if answers(registry.address):
        return Running("registry", url, started_here=False)
    host, _, port = registry.address.rpartition(":")
    if port_open(host, int(port)):
        raise ProvisionError(
            f"registry: {registry.address} is taken by something that does not answer /v2/"
        )
    binary = which("docker-registry", "/usr/bin")
    if binary is None:
        raise ProvisionError("docker-registry not found; install the docker-registry package")
    config_path = state_dir / "registry" / "config.yml"
    config_path.parent.mkdir(parents=True, exist_ok=True)
    htpasswd = _write_htpasswd(state_dir, registry)
    config_path.write_text(registry_config(state_dir, registry.address, htpasswd))
    return launch(
        "registry",
        [binary, "serve", str(config_path)],
        state_dir=state_dir,
        url=url,
        ready=lambda: answers(registry.address),
        environ=environ,
        timeout=timeout,
    )
