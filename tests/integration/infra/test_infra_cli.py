"""``python -m paastech.infra``: up leaves components running, status sees them, down stops them."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from paastech.infra.process import port_open

pytestmark = pytest.mark.integration


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _infra(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "paastech.infra", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def test_up_status_down_round_trip(tmp_path: Path, fabio_binary: Path) -> None:
    """Components started by `up` outlive the command, show in `status`, and `down` stops them."""
    registry_port, proxy_port, ui_port = free_port(), free_port(), free_port()
    env = {
        **os.environ,
        "PAASTECH_STATE_DIR": str(tmp_path / "state"),
        "PAASTECH_REGISTRY__ADDRESS": f"127.0.0.1:{registry_port}",
        "PAASTECH_FABIO__PROXY_ADDR": f"127.0.0.1:{proxy_port}",
        "PAASTECH_FABIO__UI_ADDR": f"127.0.0.1:{ui_port}",
        "FABIO_BIN": str(fabio_binary),
    }
    up = _infra(env, "up", "registry", "fabio")
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        assert port_open("127.0.0.1", registry_port)
        assert port_open("127.0.0.1", proxy_port)
        status = _infra(env, "status")
        assert f"registry   up   http://127.0.0.1:{registry_port}" in status.stdout
        assert "fabio      up" in status.stdout
    finally:
        down = _infra(env, "down")

    assert down.returncode == 0, down.stderr
    assert "stopped: fabio, registry" in down.stdout
    assert not port_open("127.0.0.1", registry_port)
    assert not port_open("127.0.0.1", proxy_port)
    assert list((tmp_path / "state" / "run").glob("*.pid")) == []


def test_unknown_component_exits_2_naming_it(tmp_path: Path) -> None:
    """A typo in a component name is a one-line error and exit code 2."""
    env = {**os.environ, "PAASTECH_STATE_DIR": str(tmp_path)}

    result = _infra(env, "up", "consul")

    assert result.returncode == 2
    assert "consul" in result.stderr
