"""Debian packages the real stack needs: installed when root, else the exact command."""

from __future__ import annotations

import os
import subprocess

from paastech.errors import ProvisionError
from paastech.infra.process import run

STACK_PACKAGES = (
    "postgresql",
    "docker.io",
    "docker-registry",
    "git",
    "openssh-client",
    "debootstrap",
    # The load generator of the benchmarks (gateway and router overhead, `nox -s bench`).
    "wrk",
)


def missing(packages: tuple[str, ...] | list[str]) -> list[str]:
    """The packages dpkg does not report as installed."""
    absent = []
    for name in packages:
        proc = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", name],
            capture_output=True,
            text=True,
            check=False,
        )
        if "install ok installed" not in proc.stdout:
            absent.append(name)
    return absent


def ensure_packages(packages: tuple[str, ...] | list[str] = STACK_PACKAGES) -> list[str]:
    """Install the missing packages with apt-get when root.

    Returns:
        The packages that were installed by this call.

    Raises:
        ProvisionError: Not root and something is missing (the message is the command to
            run), or apt-get failed.
    """
    absent = missing(packages)
    if not absent:
        return []
    command = "apt-get update && apt-get install -y " + " ".join(absent)
    if os.geteuid() != 0:
        raise ProvisionError(f"missing system packages; run as root:\n  {command}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run(["apt-get", "update", "-q"], env=env, timeout=600)
    run(
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", *absent],
        env=env,
        timeout=1800,
    )
    return absent
