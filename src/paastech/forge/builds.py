"""Builds: the Build row's life and the ``Builder`` seam that makes the image.

A push that updates ``main`` calls :func:`run_build`, which records the Build (``queued``,
next number of the project), decides what to build (:mod:`paastech.forge.detect`), hands
the request to the :class:`Builder` (``running``) and records how it ended (``succeeded``
with the image and digest, or ``failed`` with the reason). Every line the pusher saw is
kept as the build's log.

Builds of one project run one at a time, in push order: a second push while one builds
**queues** behind it (the terminal says so) and is built next, so the later commit is
always the one that ends up built. Builds of different projects run in parallel up to
``build.max_parallel``.

The real backend, :class:`paastech.forge.nomad_builder.NomadBuilder` (a Nomad batch job
running ``docker build``), implements :class:`Builder`; :class:`UnavailableBuilder` is what
a bare :class:`~paastech.forge.context.ForgeContext` gets when none is given, and fails
every build honestly -- the pushed code is stored all the same.

The row's ``log`` is appended to in chunks while the build runs (the gateway follows it),
capped at ``build.log_max_bytes`` with a ``[log truncated]`` line; ``plan`` keeps what
detection found for the release that follows.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from uuid import UUID, uuid4

import asyncpg
from piccolo.columns import Column

from paastech.db.tables import Build, Project
from paastech.errors import BuildFailed, GitError
from paastech.forge.detect import BuildPlan, DetectionError, Kind, SourceTree, detect
from paastech.forge.progress import Progress, short_sha

log = logging.getLogger(__name__)

NOMAD_MISSING = "build backend unavailable: Nomad is not available on this host"
_LAST_LINES = 20
LOG_FLUSH_SECONDS = 0.5


@dataclass(frozen=True)
class BuildRequest:
    """Everything a backend needs to build one commit of one project."""

    build_id: UUID
    number: int
    project_id: UUID
    project: str
    commit_sha: str
    ref: str
    repo_path: Path
    plan: BuildPlan


@dataclass(frozen=True)
class BuildResult:
    """What a successful build produced."""

    image: str
    digest: str
    output: list[str] = field(default_factory=list)


class Builder(Protocol):
    """Turns a commit into an image in the registry."""

    async def build(self, request: BuildRequest, progress: Progress) -> BuildResult:
        """Build ``request``, streaming its output through ``progress.output``.

        Raises:
            BuildFailed: The build could not run or did not succeed; the message is shown
                to the pusher after ``! Build failed:``.
        """
        ...


@dataclass(frozen=True)
class UnavailableBuilder:
    """The builder where no build backend exists: every build fails, saying why."""

    reason: str = NOMAD_MISSING

    async def build(self, request: BuildRequest, progress: Progress) -> BuildResult:
        raise BuildFailed(self.reason)


@dataclass
class BuildCoordinator:
    """Serialises builds per project and bounds them globally."""

    max_parallel: int
    _slots: asyncio.Semaphore = field(init=False)
    _projects: dict[UUID, asyncio.Lock] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self._slots = asyncio.Semaphore(self.max_parallel)

    def project_lock(self, project_id: UUID) -> asyncio.Lock:
        """The lock that keeps one project's builds in push order."""
        return self._projects.setdefault(project_id, asyncio.Lock())

    @property
    def slots(self) -> asyncio.Semaphore:
        """Bounds the number of builds running at once."""
        return self._slots


@dataclass(frozen=True)
class BuildOutcome:
    """How a build ended, as the push reports it."""

    number: int
    status: str
    error: str = ""
    build_id: UUID | None = None

    @property
    def ok(self) -> bool:
        return self.status == "succeeded"


async def record_build(project_id: UUID, commit_sha: str, ref: str) -> tuple[UUID, int, int]:
    """Insert a ``queued`` Build with the project's next number; returns (id, number,
    position in the build queue as it stood when the build was recorded).

    The number and the position are computed in the INSERT itself (its snapshot: the queued
    builds of any project recorded before this one); a concurrent insert from another forge
    process trips the ``UNIQUE (project, number)`` constraint and is simply retried.
    """
    for _ in range(5):
        build_id = uuid4()
        try:
            rows = await Build.raw(
                "INSERT INTO builds (id, project, number, status, git_ref, commit_sha)"
                " SELECT {}, {}, coalesce(max(number), 0) + 1, 'queued', {}, {}"
                " FROM builds WHERE project = {} RETURNING number,"
                " (SELECT count(*) FROM builds q WHERE q.status = 'queued') + 1 AS position",
                build_id,
                project_id,
                ref,
                commit_sha,
                project_id,
            )
        except asyncpg.UniqueViolationError:
            continue
        return build_id, int(rows[0]["number"]), int(rows[0]["position"])
    raise BuildFailed("could not allocate a build number (too many concurrent pushes)")


async def run_build(
    *,
    project_id: UUID,
    project: str,
    commit_sha: str,
    ref: str,
    repo_path: Path,
    builder: Builder,
    coordinator: BuildCoordinator,
    progress: Progress,
    read_tree: Callable[[Path, str], SourceTree],
    timeout_seconds: float,
    log_max_bytes: int = 1024 * 1024,
) -> BuildOutcome:
    """Record, detect and build one pushed commit; never raises for a failed build.

    The time limit counts from the moment the build starts running (not while queued).
    """
    lock = coordinator.project_lock(project_id)
    queued = lock.locked()  # decided before the row exists, so the row implies the answer
    build_id, number, position = await record_build(project_id, commit_sha, ref)
    branch = ref.removeprefix("refs/heads/")
    await progress.step(f"Building {project} ({branch} {short_sha(commit_sha)})")
    first_line = len(progress.lines) - 1
    if queued or coordinator.slots.locked():
        where = f"position {position} in the build queue"
        if queued:
            await progress.info(
                f"build #{number} queued behind the running build of {project} ({where})"
            )
        else:
            await progress.info(f"build #{number} waiting for a free build slot ({where})")
    output_start = first_line
    live = _LiveLog(build_id, progress, first_line, log_max_bytes)
    try:
        async with live.running(), lock, coordinator.slots:
            await _mark(build_id, status="running", started_at=_now())
            await progress.info(f"build #{number}")
            tree = await asyncio.to_thread(read_tree, repo_path, commit_sha)
            plan = detect(tree)
            await _kinds_agree(project_id, plan)
            await _mark(build_id, plan=plan.record())
            await progress.step(f"{plan.description} detected")
            request = BuildRequest(
                build_id=build_id,
                number=number,
                project_id=project_id,
                project=project,
                commit_sha=commit_sha,
                ref=ref,
                repo_path=repo_path,
                plan=plan,
            )
            output_start = len(progress.lines)
            try:
                async with asyncio.timeout(timeout_seconds):
                    result = await builder.build(request, progress)
            except TimeoutError as exc:
                raise BuildFailed(f"build timed out after {timeout_seconds:g} s") from exc
    except (BuildFailed, GitError) as exc:
        output = progress.lines[output_start:]
        live.verdict()
        await progress.fail(f"Build failed: {exc.message}")
        for line in output[-_LAST_LINES:]:
            await progress.info(line.strip())
        # git answers a non-zero exit with "failed to push some refs": say what did happen.
        branch = ref.removeprefix("refs/heads/")
        await progress.info(
            f"Your commit {commit_sha[:7]} is stored on {branch}; nothing was deployed. "
            "Fix the build and push again."
        )
        await live.flush()
        await _mark(build_id, status="failed", error=exc.message, finished_at=_now())
        return BuildOutcome(number=number, status="failed", error=exc.message)
    except BaseException:
        # Unexpected (a bug, a lost database, cancellation): keep the row honest, re-raise.
        log.exception("build #%s of %s crashed", number, project)
        await asyncio.shield(_crashed(live, build_id))
        raise
    live.verdict()
    await progress.step(f"Build #{number} succeeded: {result.image}")
    await live.flush()
    await _mark(
        build_id,
        status="succeeded",
        image=result.image,
        digest=result.digest,
        finished_at=_now(),
    )
    return BuildOutcome(number=number, status="succeeded", build_id=build_id)


async def _kinds_agree(project_id: UUID, plan: BuildPlan) -> None:
    """The project's kind and what its ``paastech.toml`` says must be the same.

    Raises:
        DetectionError: They differ (the line names both and how to fix it).
    """
    row = await Project.select(Project.kind).where(Project.id == project_id).first().run()
    wanted = str(row["kind"]) if row is not None else "container"
    found = "function" if plan.kind == Kind.FUNCTION else "container"
    if wanted != found:
        raise DetectionError(
            f"this project is a {wanted} but paastech.toml describes a {found}: set "
            f'kind = "{wanted}" in paastech.toml, or create a {found} project for this code'
        )


async def _crashed(live: _LiveLog, build_id: UUID) -> None:
    live.verdict()
    with contextlib.suppress(Exception):  # the database may be what failed
        await live.flush()
    await _mark(build_id, status="failed", error="internal error in the forge", finished_at=_now())


async def mark_build(build_id: UUID, **values: object) -> None:
    """Set columns of the Build row (a backend records its job id, its timings)."""
    await _mark(build_id, **values)


async def append_log(build_id: UUID, text: str) -> None:
    """Append ``text`` to the row's log in place (never rewrites what is there)."""
    await Build.raw("UPDATE builds SET log = log || {} WHERE id = {}", text, build_id)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def _mark(build_id: UUID, **values: object) -> None:
    # By name: a column called ``log`` could be shadowed by an attribute of Table.
    columns: dict[Column | str, Any] = {
        Build._meta.get_column_by_name(name): value for name, value in values.items()
    }
    await Build.update(columns).where(Build.id == build_id)


TRUNCATED = "[log truncated]"
_VERDICT_LINE_CHARS = 2000


@dataclass
class _LiveLog:
    """Keeps the row's ``log`` growing while the build runs (the gateway follows it).

    New lines are appended in chunks (``log = log || $1``), so the text only ever grows and
    a reader that remembers how much it has seen can send just the rest. Build output is
    capped at ``max_bytes`` with a visible ``[log truncated]`` line; the verdict lines
    written after the build ended (``!  Build failed …``) are always kept.
    """

    build_id: UUID
    progress: Progress
    first_line: int
    max_bytes: int
    written: int = -1
    stored: int = 0
    truncated: bool = False
    verdict_from: int | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def verdict(self) -> None:
        """The lines from here on say how the build ended: kept whatever the cap."""
        if self.verdict_from is None:
            self.verdict_from = len(self.progress.lines)

    def _pending(self) -> str:
        start = self.first_line if self.written < 0 else self.written
        end = len(self.progress.lines)
        output_end = end if self.verdict_from is None else max(start, self.verdict_from)
        self.written = end
        chunk = ""
        if not self.truncated:
            text = "".join(line + "\n" for line in self.progress.lines[start:output_end])
            data = text.encode()
            room = self.max_bytes - self.stored
            if len(data) > room:
                kept = data[:room].rpartition(b"\n")[0]
                text = (kept + b"\n" if kept else b"").decode(errors="ignore")
                text += TRUNCATED + "\n"
                self.truncated = True
            chunk = text
        chunk += "".join(
            line[:_VERDICT_LINE_CHARS] + "\n"
            for line in self.progress.lines[max(start, output_end) : end]
        )
        return chunk

    async def flush(self) -> None:
        async with self._lock:
            saved = (self.written, self.truncated)
            chunk = self._pending()
            if not chunk:
                return
            try:
                await append_log(self.build_id, chunk)
            except BaseException:
                self.written, self.truncated = saved  # the next flush sends them again
                raise
            self.stored += len(chunk.encode())

    async def keep_flushing(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), LOG_FLUSH_SECONDS)
            try:
                await self.flush()
            except Exception:  # a lost database must not end the build; the final flush retries
                log.exception("cannot append to the log of build %s", self.build_id)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        # Stopped, not cancelled: a cancelled append would lose the lines it had taken.
        stop = asyncio.Event()
        task = asyncio.create_task(self.keep_flushing(stop))
        try:
            yield
        finally:
            stop.set()
            await asyncio.shield(task)
