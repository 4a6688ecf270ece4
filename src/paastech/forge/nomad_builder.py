"""The real :class:`~paastech.forge.builds.Builder`: one Nomad batch job per build.

For each build: issue a one-time source URL and done URL (:mod:`paastech.forge.archive`),
write the registry credentials into the job's own Nomad Variable, register the job
(:func:`paastech.forge.build_job.build_job`), follow its allocation with blocking queries
and its stdout/stderr through Nomad's log API, line by line to the pusher as they come,
then check the digest the job printed against the registry's API. Whatever happens --
success, failure, the time limit cancelling the await -- the job is deregistered with
purge and its variable deleted, so no allocation is left running.

Where a warm rebuild's time went, and what the forge does about it (measured with
``tests/bench/build_bench.py``): Nomad's client starts a raw_exec task about 150 ms after
the allocation is placed (it launches its log and executor plugins), and Nomad's servers
hear that the task ended about a second after it did, so the end is read from the log.
Nomad's followed log stream passes new bytes on up to ~450 ms late (it looks for them every
250 ms and sends them in 200 ms batches): the job's running is noticed from its source
download instead, and its end from its POST to the done URL, after which the rest of the
log is read at once, without ``follow`` (Nomad answers that from the file straight away;
the script's filler line has made Nomad's log collector write the last lines there, see
:data:`paastech.forge.build_job.FLUSH_FILLER`). What remains is the task's own work: the
``docker build`` (the same work as a plain one, if 10-20 % slower beside Nomad and the
forge on a two-core dev host) and the ``docker push`` (100-150 ms).

:meth:`NomadBuilder.follow` is also what a restarted forge uses to reattach to a build
job it had started (:mod:`paastech.forge.recovery`); reading the job's log is
:mod:`paastech.forge.job_log`'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import httpx

from paastech.errors import (
    BuildFailed,
    NomadUnavailable,
    NotFound,
    PaasTechError,
    PermissionDenied,
)
from paastech.forge.archive import ArchiveServer
from paastech.forge.build_job import (
    MARKER_META,
    TASK,
    BuildJob,
    build_job,
    job_id_for,
    variable_path,
)
from paastech.forge.builds import BuildRequest, BuildResult, mark_build
from paastech.forge.job_log import Emit, JobLog, JobRun, JobSignals, Mark, announce_on
from paastech.forge.progress import Progress
from paastech.scheduler.nomad import NomadApi, is_terminal
from paastech.settings import BuildSettings, NomadSettings, Settings

log = logging.getLogger(__name__)

_STOP_WAIT_SECONDS = 30.0
_MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.index.v1+json",
    ]
)


@dataclass(frozen=True)
class RegistryAccess:
    """Where images go and the credentials build jobs (and the digest check) use."""

    address: str
    username: str = ""
    password: str = ""


class NomadBuilder:
    """Builds images in Nomad batch jobs."""

    def __init__(
        self,
        *,
        nomad: NomadApi,
        archive: ArchiveServer,
        registry: RegistryAccess,
        build: BuildSettings,
        nomad_settings: NomadSettings,
        host_network: bool,
        mark: Mark = mark_build,
    ) -> None:
        self.nomad = nomad
        self.mark = mark
        self.archive = archive
        self.registry = registry
        self.settings = build
        self.nomad_settings = nomad_settings
        self.host_network = host_network
        self._background: set[asyncio.Task[None]] = set()
        # One client for every digest check: a new one costs tens of ms (an SSL context).
        auth = (registry.username, registry.password) if registry.username else None
        self._registry_http = httpx.AsyncClient(auth=auth, timeout=30)

    async def aclose(self) -> None:
        """Close the registry client (after :meth:`drain`)."""
        await self._registry_http.aclose()

    def image_for(self, project: str, build_id: UUID) -> str:
        """``<registry>/<project>:<build id>``."""
        return f"{self.registry.address}/{project}:{build_id}"

    async def build(self, request: BuildRequest, progress: Progress) -> BuildResult:
        """Run the build job to its end; see the module docstring."""
        job_id = job_id_for(request.build_id)
        image = self.image_for(request.project, request.build_id)
        signals = JobSignals()
        url = self.archive.issue(
            request.repo_path,
            request.commit_sha,
            request.plan.dockerfile,
            on_fetch=signals.fetched.set,
        )
        done_url = self.archive.issue_done(signals.done.set)
        nonce = secrets.token_hex(8)
        spec = build_job(
            BuildJob(
                build_id=request.build_id,
                project=request.project,
                commit_sha=request.commit_sha,
                source_url=url,
                nonce=nonce,
                image=image,
                registry=self.registry.address,
                cpu_mhz=self.settings.cpu_mhz,
                memory_mb=self.settings.memory_mb,
                datacenter=self.nomad_settings.datacenter,
                namespace=self.nomad_settings.namespace,
                region=self.nomad_settings.region,
                driver=self.settings.driver,
                docker_cli_image=self.settings.docker_cli_image,
                host_network=self.host_network,
                done_url=done_url,
            )
        )
        try:
            try:
                await self.nomad.put_variable(
                    variable_path(job_id),
                    {"username": self.registry.username, "password": self.registry.password},
                )
                await self.nomad.register_job(spec)
            except PaasTechError as exc:
                raise BuildFailed(f"cannot submit the build job: {exc.message}") from exc
            await self.mark(request.build_id, job_id=job_id)
            await progress.info(f"Nomad build job {job_id} submitted")
            try:
                run = await self.follow(
                    job_id, request.build_id, nonce, progress.output, progress.info, signals
                )
            except (NomadUnavailable, PermissionDenied) as exc:
                raise BuildFailed(f"lost track of the build job: {exc.message}") from exc
            result = await self.result(run, request.project, image, self.archive.refusal(url))
        except BaseException:
            self.archive.revoke(url)
            self.archive.revoke(done_url)
            # Failed or cut off at the time limit: the job must be gone before we answer.
            await asyncio.shield(self.stop(job_id))
            raise
        self.archive.revoke(url)
        self.archive.revoke(done_url)
        # It printed its last line: purging can go on behind the answer.
        self._later(self.stop(job_id))
        return result

    def _later(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def drain(self) -> None:
        """Wait for the clean-ups still running behind answered builds."""
        while self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    async def stop(self, job_id: str) -> None:
        """Deregister the job with purge, wait until no allocation of it runs, drop its secret."""
        try:
            allocs, _ = await self.nomad.job_allocations(job_id)
        except PaasTechError:
            allocs = []
        try:
            await self.nomad.deregister_job(job_id, purge=True)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + _STOP_WAIT_SECONDS
            for first in allocs:
                alloc, index = first, 0
                while not is_terminal(alloc) and loop.time() < deadline:
                    try:
                        alloc, index = await self.nomad.allocation(str(alloc["ID"]), index)
                    except NotFound:
                        break
            await self.nomad.delete_variable(variable_path(job_id))
        except PaasTechError:
            log.exception("could not stop build job %s", job_id)

    async def marker_of(self, job_id: str) -> str:
        """The marker nonce a submitted job prints with (for a forge that reattaches)."""
        job = await self.nomad.job(job_id)
        return str((job.get("Meta") or {}).get(MARKER_META, ""))

    async def _placed(self, job_id: str, say: Emit) -> tuple[dict[str, Any], int]:
        allocs, index = await self.nomad.job_allocations(job_id)
        if not allocs:
            await say("waiting for Nomad to place the build job")
        while not allocs:
            allocs, index = await self.nomad.job_allocations(job_id, index)
        return max(allocs, key=lambda a: int(a.get("CreateIndex", 0))), index

    async def follow(  # noqa: PLR0917 - the reattaching forge passes the first five
        self,
        job_id: str,
        build_id: UUID,
        nonce: str,
        emit: Emit,
        say: Emit | None = None,
        signals: JobSignals | None = None,
    ) -> JobRun:
        """Stream the job's output through ``emit`` until it ends; what the run said.

        The end is whichever comes first: the script's exit marker in its log (read at once
        when the job POSTs to its done URL, see ``signals``), or Nomad reporting the
        allocation terminal (the script could not even start, or was killed).
        """
        say = say or emit
        alloc, _ = await self._placed(job_id, say)
        run = JobRun(alloc_id=str(alloc["ID"]), node=str(alloc.get("NodeName", "")))
        reader = JobLog(self.nomad, self.mark, run, nonce, emit, say, build_id)
        watcher = asyncio.create_task(self._until_terminal(run.alloc_id))
        marker = asyncio.create_task(reader.ended.wait())
        waits: set[asyncio.Task[Any]] = {watcher, marker}
        if signals is not None:
            waits.add(asyncio.create_task(announce_on(signals.fetched, reader)))
            done_signal = asyncio.create_task(signals.done.wait())
            waits.add(done_signal)
        reader.start()
        try:
            while not (watcher.done() or marker.done()):
                finished, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                if signals is not None and done_signal in finished:
                    waits.discard(done_signal)
                    await reader.read_at_once()
                waits -= {t for t in finished if t not in (watcher, marker)}
        finally:
            for task in waits - {watcher}:
                task.cancel()
            await reader.finish()
            if not watcher.done():
                watcher.cancel()
        if run.exit_code is None and watcher.done() and not watcher.cancelled():
            _read_events(run, watcher.result())
        return run

    async def _until_terminal(self, alloc_id: str) -> dict[str, Any]:
        alloc, index = await self.nomad.allocation(alloc_id)
        while not is_terminal(alloc):
            alloc, index = await self.nomad.allocation(alloc_id, index)
        return alloc

    async def result(self, run: JobRun, project: str, image: str, refusal: str) -> BuildResult:
        """The image of a finished run, or BuildFailed saying what went wrong."""
        if run.exit_code != 0:
            raise BuildFailed(_failure(run, refusal))
        if not run.digest.startswith("sha256:"):
            raise BuildFailed("the build job pushed no image digest")
        tag = image.rpartition(":")[2]
        stored = await self.registry_digest(project, tag)
        if stored != run.digest:
            raise BuildFailed(
                f"the registry holds {stored or 'nothing'} for {image}, not {run.digest}"
            )
        return BuildResult(image=image, digest=run.digest)

    async def registry_digest(self, project: str, tag: str) -> str:
        """The digest the registry serves for ``project:tag`` ("" when it has none)."""
        url = f"http://{self.registry.address}/v2/{project}/manifests/{tag}"
        try:
            response = await self._registry_http.head(url, headers={"Accept": _MANIFEST_TYPES})
        except httpx.HTTPError as exc:
            raise BuildFailed(f"cannot reach the registry to check the image: {exc!r}") from exc
        if response.status_code == 404:
            return ""
        if response.status_code != 200:
            raise BuildFailed(f"the registry answered {response.status_code} for {url}")
        return str(response.headers.get("Docker-Content-Digest", ""))


def _read_events(run: JobRun, alloc: dict[str, Any]) -> None:
    state = (alloc.get("TaskStates") or {}).get(TASK) or {}
    for event in state.get("Events") or []:
        if event.get("Type") == "Terminated":
            run.exit_code = int(event.get("ExitCode", 0))
        message = str(event.get("DisplayMessage", "")).strip()
        if message:
            run.event = message
    if run.exit_code is None and alloc.get("ClientStatus") == "complete":
        run.exit_code = 0


def _failure(run: JobRun, refusal: str) -> str:
    lines = [line.strip() for line in run.tail if line.strip()]
    last = lines[-1] if lines else ""
    if run.step == "fetch" or (not run.step and refusal):
        return f"could not fetch the source: {refusal or last or run.event}"
    if run.step == "build":
        marked = [
            line
            for line in lines
            if "returned a non-zero code" in line or line.lower().startswith(("error", "failed"))
        ]
        return f"docker build failed: {marked[-1] if marked else last}"
    if run.step == "push":
        return f"docker push failed: {last}"
    code = "" if run.exit_code is None else f" (exit code {run.exit_code})"
    return f"the build job failed{code}: {run.event or last or 'no output'}"


@contextlib.asynccontextmanager
async def nomad_builder(settings: Settings, git: str) -> AsyncIterator[NomadBuilder]:
    """A :class:`NomadBuilder` for ``settings`` with its source-URL listener running."""
    archive = ArchiveServer(
        git=git,
        host=settings.forge.archive_host,
        port=settings.forge.archive_port,
        public_url=settings.forge.archive_public_url,
        max_bytes=settings.build.source_max_bytes,
        ttl_seconds=settings.build.source_url_ttl_seconds,
    )
    await archive.start()
    api = NomadApi(settings.nomad)
    builder: NomadBuilder | None = None
    try:
        builder = NomadBuilder(
            nomad=api,
            archive=archive,
            registry=RegistryAccess(
                settings.registry.address, settings.registry.username, settings.registry.password
            ),
            build=settings.build,
            nomad_settings=settings.nomad,
            host_network=settings.apps.profile == "dev",
        )
        yield builder
    finally:
        if builder is not None:
            await builder.drain()
            await builder.aclose()
        await api.aclose()
        await archive.close()
