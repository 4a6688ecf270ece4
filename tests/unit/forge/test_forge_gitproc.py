"""The git processes the forge starts: inert config, scrubbed environment, progress lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from paastech.forge.builds import BuildCoordinator, UnavailableBuilder
from paastech.forge.commands import Service
from paastech.forge.context import SAFE_PATH, ForgeContext
from paastech.forge.gitproc import git_argv, git_env
from paastech.forge.progress import Progress
from paastech.forge.repos import GitRepoStore
from paastech.settings import load_settings

CTX = ForgeContext(
    settings=load_settings({}),
    repos=GitRepoStore(Path("/srv/state/repos")),
    builder=UnavailableBuilder(),
    coordinator=BuildCoordinator(1),
    git="/usr/bin/git",
    forge_dir=Path("/srv/state/forge"),
)


def test_receive_pack_runs_with_platform_hooks_and_the_size_limit() -> None:
    """No repository hook can run and git itself refuses packs over the limit."""
    argv = git_argv(CTX, Service.RECEIVE_PACK, Path("/srv/state/repos/x.git"), max_input=1234)
    assert argv[0] == "/usr/bin/git"
    assert argv[-2:] == ["receive-pack", "/srv/state/repos/x.git"]
    config = [argv[i + 1] for i, arg in enumerate(argv) if arg == "-c"]
    assert "core.hooksPath=/srv/state/forge/hooks" in config
    assert "receive.maxInputSize=1234" in config
    assert "transfer.fsckObjects=true" in config


def test_upload_pack_has_no_input_limit() -> None:
    """Clones are not limited by the push size setting."""
    argv = git_argv(CTX, Service.UPLOAD_PACK, Path("/r.git"))
    assert argv[-2:] == ["upload-pack", "/r.git"]
    assert not any(a.startswith("receive.maxInputSize") for a in argv)


@pytest.mark.parametrize(
    ("sent", "passed"),
    [
        ("version=2", "version=2"),
        ("version=1", "version=1"),
        ("version=0", "version=0"),
        ("version=3", None),
        ("version=2:object-format=sha1", None),
        ("version=2\nGIT_DIR=/", None),
        ("", None),
    ],
)
def test_only_a_well_formed_git_protocol_passes(sent: str, passed: str | None) -> None:
    """The client picks the protocol version and nothing else about the environment."""
    env = git_env(CTX, {"GIT_PROTOCOL": sent, "GIT_DIR": "/etc", "LD_PRELOAD": "/x.so"})
    assert env.get("GIT_PROTOCOL") == passed
    assert "GIT_DIR" not in env
    assert "LD_PRELOAD" not in env
    assert env["PATH"] == SAFE_PATH
    assert env["GIT_CONFIG_NOSYSTEM"] == "1"
    assert env["GIT_CONFIG_GLOBAL"] == "/dev/null"
    assert env["HOME"] == "/srv/state/forge/home"


async def test_progress_lines_have_the_heroku_shape_and_are_kept() -> None:
    """Steps, details and failures look as users expect and all land in the log."""
    sent: list[bytes] = []

    async def sink(data: bytes) -> None:
        sent.append(data)

    progress = Progress(sink)
    await progress.step("Building web (main abc1234)")
    await progress.info("build #1")
    await progress.output("Step 1/3 : FROM paastech/python\n")
    await progress.fail("Build failed: boom")

    assert sent == [
        b"-----> Building web (main abc1234)\n",
        b"       build #1\n",
        b"       Step 1/3 : FROM paastech/python\n",
        b"! Build failed: boom\n",
    ]
    assert progress.lines[-1] == "! Build failed: boom"
