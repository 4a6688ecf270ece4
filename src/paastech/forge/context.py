"""What every SSH session of one forge process shares: settings, repos, builder, locks."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from uuid import UUID

from paastech.errors import ProvisionError
from paastech.forge.builds import BuildCoordinator, Builder, UnavailableBuilder
from paastech.forge.keywatch import KeyRegistry
from paastech.forge.repos import GitRepoStore
from paastech.settings import Settings

# git and the helpers it runs come from the system, never from a client-influenced PATH.
SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"


@dataclass
class ForgeContext:
    """Shared state of one forge process."""

    settings: Settings
    repos: GitRepoStore
    builder: Builder
    coordinator: BuildCoordinator
    git: str
    forge_dir: Path
    keys: KeyRegistry = field(default_factory=KeyRegistry)
    """Open connections by key fingerprint, closed when their key is deleted."""
    _push_locks: dict[UUID, asyncio.Lock] = field(default_factory=dict)

    @classmethod
    def create(cls, settings: Settings, builder: Builder | None = None) -> ForgeContext:
        """Prepare the forge's directories and find git.

        Raises:
            ProvisionError: ``git`` is not installed.
        """
        git = shutil.which("git", path=SAFE_PATH)
        if git is None:
            raise ProvisionError("git is not installed (apt-get install git)")
        state = settings.state_path
        forge_dir = state / "forge"
        for folder in (forge_dir, forge_dir / "hooks", forge_dir / "home"):
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        return cls(
            settings=settings,
            repos=GitRepoStore.for_state_dir(state),
            builder=builder or UnavailableBuilder(),
            coordinator=BuildCoordinator(settings.build.max_parallel),
            git=git,
            forge_dir=forge_dir,
        )

    @property
    def hooks_dir(self) -> Path:
        """An empty, platform-owned directory given to git as ``core.hooksPath``."""
        return self.forge_dir / "hooks"

    @property
    def home_dir(self) -> Path:
        """``HOME`` of the git processes (no user config is ever read from it)."""
        return self.forge_dir / "home"

    def push_lock(self, project_id: UUID) -> asyncio.Lock:
        """Pushes to one project are applied one at a time (refs are compared around them)."""
        return self._push_locks.setdefault(project_id, asyncio.Lock())


@dataclass
class Activity:
    """When a connection last moved a byte, and whether it is busy building (not idle)."""

    last: float = field(default_factory=time.monotonic)
    busy: int = 0

    def touch(self) -> None:
        """Record that bytes moved just now."""
        self.last = time.monotonic()

    def idle_for(self) -> float:
        """Seconds since the last activity; 0 while a build runs."""
        return 0.0 if self.busy else time.monotonic() - self.last

    @contextlib.contextmanager
    def building(self) -> Iterator[None]:
        """A build is running: its own time limit applies, not the idle timeout."""
        self.busy += 1
        try:
            yield
        finally:
            self.busy -= 1
            self.touch()
