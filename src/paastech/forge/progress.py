"""Lines for the pushing terminal, in the Heroku-like shape users already read.

``-----> `` starts a step, seven spaces indent its details, ``! `` starts a refusal or a
failure. Every line also lands in :attr:`Progress.lines`, which becomes the build log.
Where the bytes go (a sideband packet or plain stderr) is the sink's business; a sink
whose client hung up just drops them, because a build must finish even then.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

Sink = Callable[[bytes], Awaitable[None]]

STEP = "-----> "
INDENT = "       "
FAIL = "! "


def short_sha(sha: str) -> str:
    """The seven-character abbreviation git shows."""
    return sha[:7]


async def _discard(_: bytes) -> None:
    return None


@dataclass
class Progress:
    """Writes terminal lines to a sink and remembers them."""

    sink: Sink = _discard
    lines: list[str] = field(default_factory=list)

    async def _emit(self, line: str) -> None:
        for part in line.splitlines() or [""]:
            self.lines.append(part)
            await self.sink(part.encode("utf-8", "replace") + b"\n")

    async def step(self, message: str) -> None:
        """A new step: ``-----> message``."""
        await self._emit(STEP + message)

    async def info(self, message: str) -> None:
        """A detail of the current step, indented under it."""
        await self._emit(INDENT + message)

    async def output(self, line: str) -> None:
        """One line of build output, shown indented and kept in the log."""
        await self._emit(INDENT + line.rstrip("\n"))

    async def fail(self, message: str) -> None:
        """A refusal or a failure: ``! message``."""
        await self._emit(FAIL + message)
