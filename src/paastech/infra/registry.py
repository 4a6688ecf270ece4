"""The image registry: Debian's ``docker-registry`` (distribution 2.8) on 127.0.0.1:5000.

Our own config file under the state dir, never the package's ``/etc`` one (which listens on
every interface and wants htpasswd auth): loopback only, filesystem storage in the state dir,
deletes enabled so old builds can be garbage-collected.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from paastech.errors import ProvisionError
from paastech.infra.process import (
    Running,
    http_ok,
    launch,
    port_open,
    which,
)
from paastech.settings import RegistrySettings


def registry_config(state_dir: Path, address: str) -> str:
    """The registry's YAML config: listen on ``address``, store under ``<state>/registry``."""
    storage = state_dir / "registry" / "data"
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
"""


def ensure_registry(
    state_dir: Path,
    registry: RegistrySettings,
    environ: Mapping[str, str],
    timeout: float = 30.0,
) -> Running:
    """Use the registry answering at ``registry.address``, or start one.

    Raises:
        ProvisionError: Something else holds the port, the binary is missing, or the
            registry did not answer ``GET /v2/`` within ``timeout``.
    """
    url = f"http://{registry.address}"
    ready = f"{url}/v2/"
    if http_ok(ready):
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
    config_path.write_text(registry_config(state_dir, registry.address))
    return launch(
        "registry",
        [binary, "serve", str(config_path)],
        state_dir=state_dir,
        url=url,
        ready=lambda: http_ok(ready),
        environ=environ,
        timeout=timeout,
    )
