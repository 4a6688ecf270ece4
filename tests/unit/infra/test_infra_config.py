"""Provisioning recipes rendered without starting anything: configs, routes, build recipes."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import msgspec
import pytest

from paastech.errors import ProvisionError
from paastech.infra import binaries, images
from paastech.infra.dev import banner, urls
from paastech.infra.fabio import (
    environment,
    feed_secret,
    properties,
    route_def,
    secret_path,
)
from paastech.infra.process import Running, stop_pidfile
from paastech.infra.registry import registry_config
from paastech.infra.stack import COMPONENTS, with_dependencies
from paastech.settings import load_settings


def _props(text: str) -> dict[str, str]:
    return {
        key.strip(): value.strip()
        for key, _, value in (line.partition("=") for line in text.splitlines() if line)
    }


def test_fabio_properties_point_the_custom_backend_at_the_route_feed() -> None:
    """Fabio listens on loopback and polls http://<feed>/routes with the dev poll interval."""
    props = _props(properties(load_settings({}).fabio, "s3"))

    assert props == {
        "proxy.addr": "127.0.0.1:9999",
        "ui.addr": "127.0.0.1:9998",
        "registry.backend": "custom",
        "registry.custom.host": "127.0.0.1:8001",
        "registry.custom.scheme": "http",
        "registry.custom.path": "routes",
        "registry.custom.pollinterval": "100ms",
        "registry.custom.timeout": "1s",
        "registry.custom.queryparams": "secret=s3",
        "runtime.gomaxprocs": "1",
    }


def test_fabio_gomaxprocs_zero_leaves_fabio_one_thread_per_cpu() -> None:
    """With ``fabio.gomaxprocs = 0`` the properties name no thread count (Fabio's default)."""
    fabio = msgspec.structs.replace(load_settings({}).fabio, gomaxprocs=0)

    assert "runtime.gomaxprocs" not in _props(properties(fabio, "s3"))


def test_fabio_environment_sets_gogc_unless_the_caller_did() -> None:
    """Fabio runs with the configured GOGC; one in the environment wins; 0 sets none."""
    fabio = load_settings({}).fabio

    assert environment(fabio, {"PATH": "/bin"}) == {"PATH": "/bin", "GOGC": "400"}
    assert environment(fabio, {"GOGC": "150"})["GOGC"] == "150"
    assert "GOGC" not in environment(msgspec.structs.replace(fabio, gogc=0), {})


def test_fabio_properties_carry_the_feed_secret_as_query() -> None:
    """Fabio sends the feed secret as ?secret=… on every poll; without one it is refused."""
    fabio = load_settings({}).fabio

    assert _props(properties(fabio, "abc"))["registry.custom.queryparams"] == "secret=abc"
    with pytest.raises(ProvisionError, match="needs a secret"):
        properties(fabio, "")


def test_feed_secret_is_generated_once_and_private(tmp_path: Path) -> None:
    """With no configured secret, one is generated into the state dir (0600) and kept."""
    fabio = load_settings({}).fabio
    first = feed_secret(tmp_path, fabio)

    assert len(first) >= 24
    assert feed_secret(tmp_path, fabio) == first
    assert stat.S_IMODE(secret_path(tmp_path).stat().st_mode) == 0o600
    configured = msgspec.structs.replace(fabio, route_feed_secret="set-by-operator")
    assert feed_secret(tmp_path, configured) == "set-by-operator"


def test_route_def_matches_fabio_route_def_json() -> None:
    """Entries have the field names of Fabio's route.RouteDef; empty extras are omitted."""
    plain = route_def("app", "app.apps.localhost/", "http://127.0.0.1:1234/")
    full = route_def(
        "app",
        "app.apps.localhost*/",
        "http://127.0.0.1:1234/",
        weight=0.5,
        tags=["v3"],
        opts={"strip": "/x"},
    )

    assert json.loads(json.dumps(plain)) == {
        "cmd": "route add",
        "service": "app",
        "src": "app.apps.localhost/",
        "dst": "http://127.0.0.1:1234/",
        "weight": 0.0,
    }
    assert (full["tags"], full["opts"], full["weight"]) == (["v3"], {"strip": "/x"}, 0.5)


def test_registry_config_listens_on_loopback_and_stores_in_state_dir(tmp_path: Path) -> None:
    """The registry binds only the configured address and keeps blobs under the state dir."""
    text = registry_config(tmp_path, "127.0.0.1:5000", tmp_path / "htpasswd")

    assert "addr: 127.0.0.1:5000" in text
    assert f"rootdirectory: {tmp_path}/registry/data" in text
    assert "delete:\n    enabled: true" in text
    assert f"htpasswd:\n    realm: paastech-registry\n    path: {tmp_path}/htpasswd" in text


def _script(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def test_cached_binary_is_reused_without_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A binary already in the cache for that version is returned without building."""
    monkeypatch.setenv("HOME", str(tmp_path))
    cached = binaries.binary_path("fabio", "9.9.9")
    cached.parent.mkdir(parents=True)
    _script(cached, "exit 0\n")

    assert binaries.ensure_fabio_binary("9.9.9", {"PATH": ""}) == cached


def test_fabio_bin_must_be_executable(tmp_path: Path) -> None:
    """FABIO_BIN pointing at nothing runnable is a clear error."""
    with pytest.raises(ProvisionError, match="FABIO_BIN"):
        binaries.ensure_fabio_binary("1.7.2", {"FABIO_BIN": str(tmp_path / "none")})


def test_recipe_hashes_are_stable_and_follow_the_recipe(monkeypatch: pytest.MonkeyPatch) -> None:
    """Image tags change exactly when a recipe (or the base under it) changes."""
    before = {name: images.reference(name) for name in images.ALL_IMAGES}
    assert before == {name: images.reference(name) for name in images.ALL_IMAGES}

    changed = images.DerivedImage("paastech/python", ("python3", "python3-dev"))
    monkeypatch.setitem(images.DERIVED, "python", changed)

    assert images.reference("python") != before["python"]
    assert images.reference("node") == before["node"]
    assert images.reference("base") == before["base"]


def test_derived_dockerfile_builds_on_the_hashed_base() -> None:
    """paastech/python is FROM the exact base recipe, not a moving :latest."""
    text = images.DERIVED["python"].dockerfile(images.reference("base"), recipe="r1")

    assert text.startswith(f"FROM {images.reference('base')}\n")
    assert "python3-venv" in text
    assert "LABEL org.paastech.recipe=r1" in text


@pytest.mark.parametrize(
    ("asked", "started"),
    [
        (["images"], ["docker", "images"]),
        (["nomad"], ["docker", "registry", "nomad"]),
        (["fabio", "postgres"], ["postgres", "fabio"]),
        (list(COMPONENTS), list(COMPONENTS)),
    ],
)
def test_components_come_up_with_their_dependencies_in_order(
    asked: list[str], started: list[str]
) -> None:
    """Asking for a component also starts what it needs, always in dependency order."""
    assert with_dependencies(asked) == started


def test_unknown_component_is_named() -> None:
    """A typo in a component name fails naming it and listing the known ones."""
    with pytest.raises(ProvisionError, match="consul"):
        with_dependencies(["consul"])


def test_banner_lists_every_url_and_why_nomad_is_missing() -> None:
    """The dev banner prints each URL and, for an unavailable component, its reason."""
    settings = load_settings({})
    running = [
        Running("postgres", "x", started_here=True),
        Running("nomad", "", started_here=False, problem="cannot build nomad v1.6.5\n403"),
    ]

    text = banner(settings, running)

    for _, url in urls(settings):
        assert url in text
    assert "http://<project>.apps.localhost:9999/" in text
    assert "nomad: cannot build nomad v1.6.5" in text
    assert "postgres:" not in text.split("NOT AVAILABLE:")[1]


def test_pidfile_helpers_ignore_missing_records(tmp_path: Path) -> None:
    """Stopping something never recorded is a no-op, not an error."""
    assert stop_pidfile(tmp_path, "fabio") is False
    assert not os.path.exists(tmp_path / "run")
