"""Bare repositories on disk, one per project, named by the project's id.

``<state_dir>/repos/<project_id>.git``: the id never changes and never contains a path
separator, so a project rename cannot move or collide with a repository, and no name a
client sends ever becomes part of a path.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

import pygit2

from paastech.errors import GitError
from paastech.forge.detect import SourceTree

DEFAULT_BRANCH = "main"
MAIN_REF = "refs/heads/main"
# Files detection reads the content of; anything bigger than this is not a config file.
_INTERESTING = ("paastech.toml", "Procfile", "package.json")
_MAX_INTERESTING_BYTES = 256 * 1024


@contextlib.contextmanager
def map_git_errors(what: str) -> Iterator[None]:
    """Map libgit2 and filesystem failures into :class:`GitError`."""
    try:
        yield
    except (pygit2.GitError, KeyError, ValueError, OSError) as exc:
        raise GitError(f"{what}: {exc}") from exc


@dataclass(frozen=True)
class GitRepoStore:
    """The :class:`paastech.services.RepoStore` of the platform: bare repos under ``root``."""

    root: Path

    @classmethod
    def for_state_dir(cls, state_dir: Path) -> GitRepoStore:
        """The store under ``<state_dir>/repos``."""
        return cls(state_dir / "repos")

    def path(self, project_id: UUID) -> Path:
        """Where the project's repository lives (whether or not it exists yet)."""
        return self.root / f"{UUID(str(project_id))}.git"

    def exists(self, project_id: UUID) -> bool:
        """True when the project's repository is on disk."""
        return (self.path(project_id) / "HEAD").is_file()

    def create(self, project_id: UUID) -> None:
        """Create the bare repository with ``main`` as HEAD; a no-op when it exists."""
        path = self.path(project_id)
        if self.exists(project_id):
            return
        with map_git_errors(f"cannot create repository for project {project_id}"):
            self.root.mkdir(parents=True, exist_ok=True)
            # Build beside, then rename: a half-made repo is never visible under its name.
            staging = self.root / f".{path.name}.{os.getpid()}.tmp"
            shutil.rmtree(staging, ignore_errors=True)
            pygit2.init_repository(str(staging), bare=True, initial_head=DEFAULT_BRANCH)
            try:
                staging.rename(path)
            except OSError:
                shutil.rmtree(staging, ignore_errors=True)
                if not self.exists(project_id):
                    raise

    def delete(self, project_id: UUID) -> None:
        """Remove the repository; a no-op when it does not exist."""
        path = self.path(project_id)
        with map_git_errors(f"cannot delete repository of project {project_id}"):
            if path.exists():
                # Rename first so a concurrent push never sees a half-deleted repository.
                doomed = self.root / f".{path.name}.deleted.{os.getpid()}"
                path.rename(doomed)
                shutil.rmtree(doomed)

    def size(self, project_id: UUID) -> int:
        """Bytes the repository takes on disk (every regular file under it)."""
        return directory_size(self.path(project_id))


def directory_size(path: Path) -> int:
    """Sum of the sizes of the regular files below ``path`` (symlinks not followed)."""
    total = 0
    stack = [path]
    while stack:
        with contextlib.suppress(FileNotFoundError), os.scandir(stack.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False):
                    total += entry.stat(follow_symlinks=False).st_size
    return total


def ref_targets(repo_path: Path) -> dict[str, str]:
    """Every direct ref of the repository and the object id it points at."""
    with map_git_errors("cannot read refs"):
        repo = pygit2.Repository(str(repo_path))
        targets: dict[str, str] = {}
        for ref in repo.references.iterator():
            target = ref.target
            if isinstance(target, pygit2.Oid):
                targets[ref.name] = str(target)
        return targets


def source_tree(repo_path: Path, commit_sha: str) -> SourceTree:
    """The top level of a commit's tree, as detection needs it (names and a few contents)."""
    with map_git_errors(f"cannot read commit {commit_sha[:12]}"):
        repo = pygit2.Repository(str(repo_path))
        commit = repo.get(commit_sha)
        if not isinstance(commit, pygit2.Commit):
            raise GitError(f"{commit_sha[:12]} is not a commit")
        files: set[str] = set()
        directories: set[str] = set()
        contents: dict[str, bytes] = {}
        for entry in commit.tree:
            name = entry.name or ""
            if entry.type_str == "tree":
                directories.add(name)
                continue
            if entry.type_str != "blob" or entry.filemode == pygit2.enums.FileMode.LINK:
                continue
            files.add(name)
            if name in _INTERESTING:
                blob = repo[entry.id]
                if isinstance(blob, pygit2.Blob) and blob.size <= _MAX_INTERESTING_BYTES:
                    contents[name] = blob.data
        return SourceTree(
            files=frozenset(files), directories=frozenset(directories), contents=contents
        )
