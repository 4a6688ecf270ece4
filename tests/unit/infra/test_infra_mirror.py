"""Where debootstrap fetches the base image from: the mirror this machine's apt already uses."""

from __future__ import annotations

from pathlib import Path

import pytest

from paastech.errors import ProvisionError
from paastech.infra.images import apt_mirror


def apt_dir(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_deb822_sources_give_the_bookworm_mirror(tmp_path: Path) -> None:
    """A deb822 file's URIs for the bookworm suite are used; security stanzas are not."""
    folder = apt_dir(
        tmp_path,
        {
            "sources.list.d/debian.sources": (
                "Types: deb\nURIs: http://mirror.test/debian\nSuites: bookworm bookworm-updates\n"
                "Components: main\n\n"
                "Types: deb\nURIs: http://mirror.test/debian-security\nSuites: bookworm-security\n"
            )
        },
    )
    assert apt_mirror({}, folder) == "http://mirror.test/debian"


def test_one_line_sources_with_options(tmp_path: Path) -> None:
    """A classic sources.list line with [options] and comments still yields its URL."""
    folder = apt_dir(
        tmp_path,
        {
            "sources.list": (
                "# deb http://old.test/debian bookworm main\n"
                "deb-src http://src.test/debian bookworm main\n"
                "deb [arch=amd64 signed-by=/k.gpg] http://mirror.test/debian bookworm main\n"
            )
        },
    )
    assert apt_mirror({}, folder) == "http://mirror.test/debian"


def test_operator_override_wins(tmp_path: Path) -> None:
    """PAASTECH_DEBIAN_MIRROR points debootstrap elsewhere (an internal mirror)."""
    folder = apt_dir(tmp_path, {"sources.list": "deb http://mirror.test/debian bookworm main\n"})
    assert apt_mirror({"PAASTECH_DEBIAN_MIRROR": "http://inside.test/d"}, folder) == (
        "http://inside.test/d"
    )


def test_no_mirror_is_a_clear_error(tmp_path: Path) -> None:
    """Without any bookworm source the error says how to set one, instead of a debootstrap trace."""
    folder = apt_dir(tmp_path, {"sources.list": "deb http://mirror.test/debian trixie main\n"})
    with pytest.raises(ProvisionError, match="PAASTECH_DEBIAN_MIRROR"):
        apt_mirror({}, folder)
