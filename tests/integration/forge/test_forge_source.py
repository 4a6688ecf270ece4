"""The build context a backend receives: the commit's tree, plus the generated Dockerfile."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest
from imagebuild import GIT, commit_all

from paastech.errors import GitError
from paastech.forge.detect import SourceTree, detect
from paastech.forge.repos import source_tree
from paastech.forge.source import export_source

pytestmark = pytest.mark.integration


def repo_with(tmp_path: Path, files: dict[str, str]) -> tuple[Path, str]:
    """A repository holding one commit of ``files``: (its git dir, the commit sha)."""
    work = tmp_path / "work"
    work.mkdir()
    for name, text in files.items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text(text)
    return commit_all(work)


def members(archive: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        return {
            m.name: (tar.extractfile(m).read() if m.isfile() else b"")  # type: ignore[union-attr]
            for m in tar.getmembers()
        }


async def test_generated_dockerfile_is_added_to_the_commit_tree(tmp_path: Path) -> None:
    """A Python app without a Dockerfile ships its files plus the one detection wrote."""
    git_dir, sha = repo_with(
        tmp_path, {"app.py": "print(1)\n", "requirements.txt": "\n", "pkg/mod.py": "x = 1\n"}
    )
    tree = source_tree(git_dir, sha)
    plan = detect(tree)

    files = members(await export_source(GIT, git_dir, sha, plan))

    assert tree == SourceTree(
        files=frozenset({"app.py", "requirements.txt"}),
        directories=frozenset({"pkg"}),
        contents={},
    )
    assert files["app.py"] == b"print(1)\n"
    assert files["pkg/mod.py"] == b"x = 1\n"
    assert plan.dockerfile is not None
    assert files["Dockerfile"] == plan.dockerfile.encode()


async def test_a_projects_own_dockerfile_is_shipped_untouched(tmp_path: Path) -> None:
    """With a Dockerfile in the commit, the context is exactly the commit's tree."""
    git_dir, sha = repo_with(tmp_path, {"Dockerfile": "FROM paastech/base\n", "a.txt": "a"})
    plan = detect(source_tree(git_dir, sha))

    files = members(await export_source(GIT, git_dir, sha, plan))

    assert files["Dockerfile"] == b"FROM paastech/base\n"
    assert set(files) >= {"Dockerfile", "a.txt"}


async def test_an_unknown_commit_is_a_git_error(tmp_path: Path) -> None:
    """Exporting a commit the repository does not have fails as a GitError."""
    git_dir, _ = repo_with(tmp_path, {"index.html": "x"})
    plan = detect(SourceTree(files=frozenset({"index.html"})))

    with pytest.raises(GitError):
        await export_source(GIT, git_dir, "0" * 40, plan)
