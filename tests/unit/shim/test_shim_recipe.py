"""The shim ships inside paastech/python, and a change to its source rebuilds that image."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from paastech.forge.detect import SourceTree, detect
from paastech.infra import images


def test_python_image_copies_the_shim_as_paastech_shim() -> None:
    """Every shim module is in the build context under paastech_shim and copied in."""
    dockerfile = images.DERIVED["python"].dockerfile("base", recipe="r")
    copied = dict(images.DERIVED["python"].copied_files())

    assert f"COPY paastech_shim {images.SHIM_DIR}" in dockerfile
    assert "paastech_shim/__main__.py" in copied
    assert "paastech_shim/server.py" in copied
    assert not any("__pycache__" in name for name in copied)


def test_a_shim_change_changes_the_recipe_hash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Editing one shim file gives paastech/python a new tag, so the image is rebuilt."""
    shim = tmp_path / "shim"
    shutil.copytree(images.SHIM_SOURCE, shim, ignore=shutil.ignore_patterns("__pycache__"))
    python = dataclasses.replace(images.DERIVED["python"], copies=((shim, images.SHIM_DIR),))
    monkeypatch.setitem(images.DERIVED, "python", python)
    before = images.reference("python")
    node = images.reference("node")

    (shim / "wire.py").write_text((shim / "wire.py").read_text() + "\n# changed\n")

    assert images.reference("python") != before
    assert images.reference("node") == node  # the node image copies nothing


def test_function_image_imports_the_shim_from_the_base() -> None:
    """The generated Dockerfile points the venv at /opt/paastech and runs paastech_shim."""
    plan = detect(
        SourceTree(
            frozenset({"main.py", "paastech.toml"}),
            contents={"paastech.toml": b'kind = "function"\nhandler = "main:handle"\n'},
        )
    )
    assert plan.dockerfile is not None
    assert images.SHIM_DIR.rsplit("/", 1)[0] in plan.dockerfile
    assert "paastech_shim.pth" in plan.dockerfile
    assert plan.dockerfile.rstrip().endswith('CMD ["python", "-m", "paastech_shim"]')
