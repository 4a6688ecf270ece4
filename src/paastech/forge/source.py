"""The build context of one commit: its tree as a tarball, plus the generated Dockerfile.

This is what a build backend hands ``docker build`` (served to a Nomad batch job with a
one-time token, or read from a path on a single-node dev profile). ``git archive`` writes
the tree straight from the object database: nothing is checked out on the forge host and
no code of the repository runs (``export-subst`` only expands git's own placeholders).
"""

from __future__ import annotations

import asyncio
import io
import tarfile
from pathlib import Path

from paastech.errors import GitError
from paastech.forge.context import SAFE_PATH
from paastech.forge.detect import BuildPlan

GENERATED_DOCKERFILE = "Dockerfile"


async def export_source(git: str, repo_path: Path, commit_sha: str, plan: BuildPlan) -> bytes:
    """A tar of the commit's tree; with a generated Dockerfile added when the plan has one.

    Raises:
        GitError: ``git archive`` failed (unknown commit, corrupt repository).
    """
    proc = await asyncio.create_subprocess_exec(
        git,
        f"--git-dir={repo_path}",
        "archive",
        "--format=tar",
        commit_sha,
        env={
            "PATH": SAFE_PATH,
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": "/dev/null",
            "HOME": "/nonexistent",
            "LC_ALL": "C",
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise GitError(f"cannot export {commit_sha[:12]}: {err.decode(errors='replace').strip()}")
    extra = None if plan.dockerfile is None else plan.dockerfile.encode()
    return _rewrite(out, GENERATED_DOCKERFILE, extra)


def _rewrite(archive: bytes, name: str, content: bytes | None) -> bytes:
    """``archive`` as a plain GNU tar, with ``name`` added when ``content`` is given.

    ``git archive`` opens with a pax global header (the commit id); ``docker build -``
    sniffs only the first block to tell a tar from a Dockerfile and takes such a stream
    for a Dockerfile, so the archive is rewritten without pax headers.
    """
    buffer = io.BytesIO()
    with (
        tarfile.open(fileobj=io.BytesIO(archive), mode="r:") as source,
        tarfile.open(fileobj=buffer, mode="w:", format=tarfile.GNU_FORMAT) as target,
    ):
        for member in source.getmembers():
            if content is not None and member.name == name:
                continue
            member.pax_headers = {}
            data = source.extractfile(member) if member.isfile() else None
            target.addfile(member, data)
        if content is not None:
            info = tarfile.TarInfo(name)
            info.size = len(content)
            info.mode = 0o644
            target.addfile(info, io.BytesIO(content))
    return buffer.getvalue()
