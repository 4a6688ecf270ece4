"""Nomad v1.6.5 (the last MPL-2.0 release) built from the Go module proxy, and its dev agent.

Never a newer Nomad: later releases are not open source. The build goes through a wrapper
module that requires ``github.com/hashicorp/nomad v1.6.5`` and repeats the ``replace``
directives of nomad's own go.mod (``go build`` ignores a dependency's replaces), pointing
``github.com/hashicorp/nomad/api`` at the pseudo-version of the same commit.
"""

from __future__ import annotations

import json
import os
import re
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from paastech.errors import ProvisionError
from paastech.infra.binaries import BuildAttempt, GoProgram, binary_path, go_build
from paastech.infra.process import (
    Running,
    launch,
    run,
)
from paastech.settings import NomadSettings

NOMAD_VERSION = "1.6.5"
NOMAD_MODULE = "github.com/hashicorp/nomad"
# The api module at the commit tagged v1.6.5.
NOMAD_API_PSEUDO_VERSION = "v0.0.0-20231213200011-a7cfff372cd5"

# nomad v1.6.5's go.mod replaces, plus the api module pinned to the same commit.
_REPLACES = (
    (
        "github.com/Microsoft/go-winio",
        "github.com/endocrimes/go-winio v0.4.13-0.20190628114223-fb47a8b41948",
    ),
    (
        "github.com/armon/go-metrics",
        "github.com/armon/go-metrics v0.0.0-20230509193637-d9ca9af9f1f9",
    ),
    ("github.com/hashicorp/hcl", "github.com/hashicorp/hcl v1.0.1-0.20201016140508-a07e7d50bbee"),
    (
        "github.com/hashicorp/nomad/api",
        f"github.com/hashicorp/nomad/api {NOMAD_API_PSEUDO_VERSION}",
    ),
)

# Go >= 1.23 refuses some of the linkname tricks 2023-era dependencies use; then cgo on/off.
BUILD_ATTEMPTS = (
    BuildAttempt("default"),
    BuildAttempt("-ldflags=-checklinkname=0", ("-ldflags=-checklinkname=0",)),
    BuildAttempt(
        "-checklinkname=0, CGO_ENABLED=0", ("-ldflags=-checklinkname=0",), {"CGO_ENABLED": "0"}
    ),
    BuildAttempt(
        "-checklinkname=0, CGO_ENABLED=1", ("-ldflags=-checklinkname=0",), {"CGO_ENABLED": "1"}
    ),
)

_VERSION_RE = re.compile(r"Nomad v(\d+\.\d+\.\d+)")


def nomad_program(version: str = NOMAD_VERSION) -> GoProgram:
    """The wrapper-module recipe for Nomad ``version``."""
    if version != NOMAD_VERSION:
        raise ProvisionError(
            f"Nomad {version} requested; only v{NOMAD_VERSION} (MPL-2.0) is supported"
        )
    return GoProgram(
        "nomad",
        version,
        NOMAD_MODULE,
        NOMAD_MODULE,
        replaces=_REPLACES,
        requires=(("github.com/hashicorp/nomad/api", NOMAD_API_PSEUDO_VERSION),),
    )


def reported_version(binary: str | Path) -> str | None:
    """The version ``nomad version`` prints, or None when it is not a Nomad binary."""
    proc = run([str(binary), "version"], check=False, timeout=30)
    match = _VERSION_RE.search(proc.stdout)
    return match.group(1) if match else None


def ensure_nomad_binary(environ: Mapping[str, str], version: str = NOMAD_VERSION) -> Path:
    """``NOMAD_BIN``, else a ``nomad`` on PATH reporting ``version``, else the cached build.

    Raises:
        ProvisionError: ``NOMAD_BIN`` is not Nomad ``version``, or the build failed (the
            message carries go's exact output for every attempt).
    """
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
    cached = binary_path("nomad", version)
    if cached.exists():
        return cached
    return go_build(nomad_program(version), environ, BUILD_ATTEMPTS)


def agent_config(state_dir: Path) -> str:
    """HCL for the dev agent: loopback only, docker with host networking, raw_exec on."""
    data_dir = state_dir / "nomad" / "data"
    return f"""\
bind_addr = "127.0.0.1"
data_dir  = "{data_dir}"

advertise {{
  http = "127.0.0.1"
  rpc  = "127.0.0.1"
  serf = "127.0.0.1"
}}

client {{
  network_interface = "lo"
}}

plugin "docker" {{
  config {{
    # The dev profile runs apps with network_mode = "host" (dockerd has no bridge here);
    # images come from the local registry only.
    allow_privileged = false
    volumes {{
      enabled = true
    }}
    gc {{
      image = false
    }}
  }}
}}

plugin "raw_exec" {{
  config {{
    enabled = true
  }}
}}
"""


def _agent_self(address: str) -> bool:
    try:
        with urllib.request.urlopen(f"{address}/v1/agent/self", timeout=2) as resp:  # noqa: S310
            return bool(json.load(resp).get("config"))
    except (OSError, ValueError):
        return False


def ensure_nomad_agent(
    state_dir: Path, nomad: NomadSettings, environ: Mapping[str, str], timeout: float = 90.0
) -> Running:
    """Start ``nomad agent -dev -bind 127.0.0.1`` unless an agent already answers.

    Raises:
        ProvisionError: No Nomad v1.6.5 binary could be had, or the agent did not come up.
    """
    if _agent_self(nomad.address):
        return Running("nomad", nomad.address, started_here=False)
    binary = ensure_nomad_binary(environ, nomad.version)
    config_path = state_dir / "nomad" / "agent.hcl"
    config_path.parent.mkdir(parents=True, exist_ok=True)
    config_path.write_text(agent_config(state_dir))
    return launch(
        "nomad",
        [str(binary), "agent", "-dev", "-bind", "127.0.0.1", "-config", str(config_path)],
        state_dir=state_dir,
        url=nomad.address,
        ready=lambda: _agent_self(nomad.address),
        environ=environ,
        timeout=timeout,
        what="nomad agent",
        stop_timeout=30,
    )
