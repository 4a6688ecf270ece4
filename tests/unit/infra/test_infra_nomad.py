"""Obtaining Nomad v1.6.5 and configuring its dev agent, with fake ``go``/``nomad`` programs.

The real build (minutes) runs in provisioning and its result in the integration suite; these
tests pin the order of the sources, the checksum gate and the progress a builder sees.
"""

from __future__ import annotations

import hashlib
import io
import stat
import tarfile
from pathlib import Path

import msgspec
import pytest

from paastech.errors import ProvisionError
from paastech.infra import nomad
from paastech.settings import NomadSettings, load_settings


def _script(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def _tarball(folder: Path, *, listed_sha: str | None = None) -> Path:
    """A tiny source tarball with its SHA256SUMS (listing ``listed_sha`` when given)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / nomad.TARBALL_NAME
    with tarfile.open(path, "w:xz") as archive:
        data = b"package main\n\nfunc main() {}\n"
        info = tarfile.TarInfo("nomad-1.6.5/main.go")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    sha = listed_sha or hashlib.sha256(path.read_bytes()).hexdigest()
    (folder / "SHA256SUMS").write_text(f"{sha}  {path.name}\n")
    return path


def _settings(tarball: Path) -> NomadSettings:
    return msgspec.structs.replace(load_settings({}).nomad, source_tarball=str(tarball))


# A fake `go build -trimpath -o OUT .` that takes a moment and writes a fake v1.6.5 nomad.
FAKE_GO = """\
echo "$@" >> "$(dirname "$0")/go.calls"
echo "go: downloading github.com/example/mod v1.0.0"
sleep 0.3
out="$4"
printf '#!/bin/sh\\necho "Nomad v1.6.5"\\necho "BuildDate 2023-12-13"\\n' > "$out"
chmod +x "$out"
"""


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A HOME of its own, so the cache under ~/.cache/paastech starts empty."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_no_other_nomad_version_is_accepted(tmp_path: Path, home: Path) -> None:
    """The platform runs Nomad v1.6.5 only: configuring any other version is refused."""
    other = msgspec.structs.replace(load_settings({}).nomad, version="1.6.4")
    with pytest.raises(ProvisionError, match=r"only Nomad v1\.6\.5"):
        nomad.ensure_nomad_binary(other, {"PATH": ""})


def test_nomad_bin_of_another_version_is_refused(tmp_path: Path, home: Path) -> None:
    """NOMAD_BIN must report v1.6.5; anything else is an error naming what it reported."""
    fake = _script(tmp_path / "nomad", 'echo "Nomad v1.6.4"\n')

    with pytest.raises(ProvisionError, match=r"reports 1\.6\.4, need v1\.6\.5"):
        nomad.ensure_nomad_binary(load_settings({}).nomad, {"NOMAD_BIN": str(fake), "PATH": ""})


def test_a_v165_nomad_on_path_wins_over_the_tarball(tmp_path: Path, home: Path) -> None:
    """A nomad on PATH that reports v1.6.5 is used as it is; other versions are passed over."""
    other = _script(tmp_path / "other" / "nomad", 'echo "Nomad v1.6.4"\n')
    good = _script(tmp_path / "good" / "nomad", 'echo "Nomad v1.6.5"\n')
    path = f"{other.parent}:{good.parent}"

    assert nomad.ensure_nomad_binary(_settings(tmp_path / "none.tar.xz"), {"PATH": path}) == good


def test_without_any_source_the_message_lists_the_three_ways(tmp_path: Path, home: Path) -> None:
    """No NOMAD_BIN, nothing on PATH, no tarball: one message naming every way to fix it."""
    missing = tmp_path / "shared" / "nomad" / nomad.TARBALL_NAME

    with pytest.raises(ProvisionError) as info:
        nomad.ensure_nomad_binary(_settings(missing), {"PATH": ""})

    message = info.value.message
    assert "NOMAD_BIN" in message
    assert "on PATH" in message
    assert str(missing) in message
    assert "nomad.source_tarball" in message


def test_tampered_tarball_is_refused_before_any_build_starts(tmp_path: Path, home: Path) -> None:
    """A tarball whose sha256 is not the one SHA256SUMS lists never reaches ``go``."""
    tarball = _tarball(tmp_path / "src", listed_sha="0" * 64)
    go = _script(tmp_path / "bin" / "go", FAKE_GO)

    with pytest.raises(ProvisionError, match="does not match SHA256SUMS"):
        nomad.ensure_nomad_binary(_settings(tarball), {"PATH": f"{go.parent}:/usr/bin:/bin"})

    assert not (go.parent / "go.calls").exists()
    assert not list((home / ".cache" / "paastech" / "bin").glob("nomad-*"))


def test_build_from_tarball_shows_progress_and_is_cached_by_its_sha(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The build prints its phase with the elapsed time while it runs, lands in the cache
    under the tarball's sha256, and a second call reuses it without running go again."""
    monkeypatch.setattr(nomad, "PROGRESS_SECONDS", 0.1)
    tarball = _tarball(tmp_path / "src")
    go = _script(tmp_path / "bin" / "go", FAKE_GO)
    said: list[str] = []

    built = nomad.ensure_nomad_binary(
        _settings(tarball), {"PATH": f"{go.parent}:/usr/bin:/bin"}, said.append
    )

    sha = hashlib.sha256(tarball.read_bytes()).hexdigest()
    assert built == home / ".cache" / "paastech" / "bin" / f"nomad-1.6.5-{sha[:12]}"
    assert nomad.reported_version(built) == "1.6.5"
    assert any("elapsed" in line for line in said), said
    assert any(line.startswith("verifying") for line in said)
    assert (go.parent / "go.calls").read_text().count("build -trimpath") == 1

    again = nomad.ensure_nomad_binary(
        _settings(tarball), {"PATH": f"{go.parent}:/usr/bin:/bin"}, said.append
    )
    assert again == built
    assert (go.parent / "go.calls").read_text().count("build -trimpath") == 1


def test_a_build_reporting_another_version_is_not_cached(tmp_path: Path, home: Path) -> None:
    """Whatever the tarball builds, only a binary that says v1.6.5 is kept."""
    tarball = _tarball(tmp_path / "src")
    go = _script(tmp_path / "bin" / "go", FAKE_GO.replace("v1.6.5", "v9.9.9"))

    with pytest.raises(ProvisionError, match=r"reports 9\.9\.9, not v1\.6\.5"):
        nomad.ensure_nomad_binary(
            _settings(tarball), {"PATH": f"{go.parent}:/usr/bin:/bin"}, lambda _: None
        )
    assert not list((home / ".cache" / "paastech" / "bin").glob("nomad-1.6.5-*"))


def test_default_tarball_is_the_shared_one_beside_the_repository() -> None:
    """By default the source is ../shared/nomad/nomad-1.6.5-src.tar.xz from the repo root."""
    root = Path(nomad.__file__).resolve().parents[3]
    assert nomad.tarball_path(load_settings({}).nomad) == (
        root.parent / "shared" / "nomad" / "nomad-1.6.5-src.tar.xz"
    )


def test_management_token_is_generated_once_and_private(tmp_path: Path) -> None:
    """The agent's management token is made once, kept 0600, and read back unchanged."""
    first = nomad.management_token(tmp_path)

    assert nomad.management_token(tmp_path) == first
    assert stat.S_IMODE(nomad.token_path(tmp_path).stat().st_mode) == 0o600


def test_agent_config_is_loopback_with_acls_docker_auth_and_raw_exec(tmp_path: Path) -> None:
    """The dev agent binds 127.0.0.1, has ACLs on, pulls with the registry credentials and
    enables raw_exec next to the docker driver."""
    hcl = nomad.agent_config(tmp_path, tmp_path / "docker" / "config.json")

    assert 'bind_addr = "127.0.0.1"' in hcl
    assert "acl {\n  enabled = true\n}" in hcl
    assert f'auth {{\n      config = "{tmp_path}/docker/config.json"' in hcl
    assert 'plugin "raw_exec"' in hcl
    assert 'plugin "docker"' in hcl
