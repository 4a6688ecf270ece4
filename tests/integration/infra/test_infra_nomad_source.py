"""The shipped Nomad source: verified before use, refused when tampered with."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import msgspec
import pytest

from paastech.errors import ProvisionError
from paastech.infra import nomad
from paastech.settings import load_settings

pytestmark = pytest.mark.integration


def test_the_shipped_tarball_verifies(tmp_path: Path) -> None:
    """../shared/nomad's tarball matches its SHA256SUMS (what every build starts from)."""
    tarball = nomad.default_tarball()
    assert tarball.is_file(), f"{tarball} is missing"
    assert nomad.verify_tarball(tarball) == nomad.expected_sha256(tarball)


def test_a_tampered_copy_of_the_shipped_tarball_is_refused_before_any_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One changed byte in the real tarball: refused naming SHA256SUMS, and go never runs."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    source = nomad.default_tarball()
    copy = tmp_path / "src" / source.name
    copy.parent.mkdir()
    shutil.copyfile(source, copy)
    shutil.copyfile(source.with_name("SHA256SUMS"), copy.with_name("SHA256SUMS"))
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0xFF
    copy.write_bytes(bytes(data))
    calls = tmp_path / "go.calls"
    go = tmp_path / "bin" / "go"
    go.parent.mkdir()
    go.write_text(f'#!/bin/sh\necho "$@" >> {calls}\nexit 1\n')
    go.chmod(go.stat().st_mode | stat.S_IEXEC)
    settings = msgspec.structs.replace(load_settings({}).nomad, source_tarball=str(copy))

    with pytest.raises(ProvisionError, match="does not match SHA256SUMS"):
        nomad.ensure_nomad_binary(settings, {"PATH": f"{go.parent}:/usr/bin:/bin"})
    assert not calls.exists()
