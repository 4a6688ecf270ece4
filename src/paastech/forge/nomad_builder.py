"""The real :class:`~paastech.forge.builds.Builder`: one Nomad batch job per build.

For each build: issue a one-time source URL (:mod:`paastech.forge.archive`), write the
registry credentials into the job's own Nomad Variable, register the job
(:func:`paastech.forge.build_job.build_job`), follow its allocation with blocking queries
and its stdout/stderr through Nomad's log API, line by line to the pusher as they come,
then check the digest the job printed against the registry's API. Whatever happens --
success, failure, the time limit cancelling the await -- the job is deregistered with
purge and its variable deleted, so no allocation is left running.

:meth:`NomadBuilder.follow` is also what a restarted forge uses to reattach to a build
job it had started (:mod:`paastech.forge.recovery`).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import httpx

from paastech.errors import BuildFailed, NotFound, PaasTechError
from paastech.forge.archive import ArchiveServer
from paastech.forge.build_job import (
    DIGEST_MARKER,
    STEP_MARKER,
    TASK,
    BuildJob,
    build_job,
    job_id_for,
    variable_path,
)
from paastech.forge.builds import BuildRequest, BuildResult, mark_build
from paastech.forge.nomad_api import NomadApi, is_terminal
from paastech.forge.progress import Progress
from paastech.settings import BuildSettings, NomadSettings, Settings

log = logging.getLogger(__name__)

Emit = Callable[[str], Awaitable[None]]
_TAIL = 40
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


@dataclass
class JobRun:
    """What following a build job found."""

    alloc_id: str = ""
    exit_code: int | None = None
    digest: str = ""
    step: str = ""
    event: str = ""
    tail: collections.deque[str] = field(default_factory=lambda: collections.deque(maxlen=_TAIL))


@dataclass
class _Stream:
    name: str
    offset: int = 0
    partial: bytes = b""

    def split(self, chunk: bytes) -> list[str]:
        self.offset += len(chunk)
        data = self.partial + chunk
        *lines, self.partial = data.split(b"\n")
        return [line.decode("utf-8", "replace").rstrip("\r") for line in lines]

    def rest(self) -> list[str]:
        rest, self.partial = self.partial, b""
        return [rest.decode("utf-8", "replace")] if rest else []


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
    ) -> None:
        self.nomad = nomad
        self.archive = archive
        self.registry = registry
        self.settings = build
        self.nomad_settings = nomad_settings
        self.host_network = host_network

    def image_for(self, project: str, build_id: UUID) -> str:
        """``<registry>/<project>:<build id>``."""
        return f"{self.registry.address}/{project}:{build_id}"

    async def build(self, request: BuildRequest, progress: Progress) -> BuildResult:
        """Run the build job to its end; see the module docstring."""
        job_id = job_id_for(request.build_id)
        image = self.image_for(request.project, request.build_id)
        url = self.archive.issue(request.repo_path, request.commit_sha, request.plan.dockerfile)
        spec = build_job(
            BuildJob(
                build_id=request.build_id,
                project=request.project,
                commit_sha=request.commit_sha,
                source_url=url,
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
            await mark_build(request.build_id, job_id=job_id)
            await progress.info(f"Nomad build job {job_id} submitted")
            run = await self.follow(job_id, request.build_id, progress.output, progress.info)
            return await self.result(run, request.project, image, self.archive.refusal(url))
        finally:
            self.archive.revoke(url)
            await asyncio.shield(self.stop(job_id))

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

    async def _started(self, job_id: str, build_id: UUID, say: Emit) -> tuple[dict[str, Any], int]:
        """The job's allocation once its task runs (or has ended); records when it began."""
        allocs, index = await self.nomad.job_allocations(job_id)
        if not allocs:
            await say("waiting for Nomad to place the build job")
        while not allocs:
            allocs, index = await self.nomad.job_allocations(job_id, index)
        alloc_id = str(max(allocs, key=lambda a: int(a.get("CreateIndex", 0)))["ID"])
        alloc, index = await self.nomad.allocation(alloc_id)
        while not is_terminal(alloc) and _task_state(alloc) not in {"running", "dead"}:
            alloc, index = await self.nomad.allocation(alloc_id, index)
        await mark_build(build_id, job_running_at=dt.datetime.now(dt.UTC))
        node = str(alloc.get("NodeName", "")) or str(alloc.get("NodeID", ""))[:8]
        await say(f"build job running on node {node}")
        return alloc, index

    async def follow(
        self, job_id: str, build_id: UUID, emit: Emit, say: Emit | None = None
    ) -> JobRun:
        """Wait for the job's allocation, stream its output through ``emit`` until it ends."""
        run = JobRun()
        alloc, index = await self._started(job_id, build_id, say or emit)
        run.alloc_id = str(alloc["ID"])

        queue: asyncio.Queue[str | None] = asyncio.Queue()
        streams = [_Stream("stdout"), _Stream("stderr")]
        pumps = [
            asyncio.create_task(self._pump(run.alloc_id, s, queue, follow=True)) for s in streams
        ]
        consumer = asyncio.create_task(self._consume(queue, run, emit))
        try:
            while not is_terminal(alloc):
                alloc, index = await self.nomad.allocation(run.alloc_id, index)
        finally:
            for pump in pumps:
                pump.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)
            # What the followers had not received yet, read once from where they stopped.
            for stream in streams:
                with contextlib.suppress(PaasTechError, httpx.HTTPError):
                    await asyncio.shield(self._pump(run.alloc_id, stream, queue, follow=False))
                for line in stream.rest():
                    queue.put_nowait(line)
            queue.put_nowait(None)
            await asyncio.shield(consumer)
        state = (alloc.get("TaskStates") or {}).get(TASK) or {}
        for event in state.get("Events") or []:
            if event.get("Type") == "Terminated":
                run.exit_code = int(event.get("ExitCode", 0))
            message = str(event.get("DisplayMessage", "")).strip()
            if message:
                run.event = message
        if run.exit_code is None and alloc.get("ClientStatus") == "complete":
            run.exit_code = 0
        return run

    async def _pump(
        self, alloc_id: str, stream: _Stream, queue: asyncio.Queue[str | None], *, follow: bool
    ) -> None:
        async for chunk in self.nomad.logs(
            alloc_id, TASK, stream.name, offset=stream.offset, follow=follow
        ):
            for line in stream.split(chunk):
                queue.put_nowait(line)

    async def _consume(self, queue: asyncio.Queue[str | None], run: JobRun, emit: Emit) -> None:
        while (line := await queue.get()) is not None:
            if line.startswith(STEP_MARKER):
                run.step = line.removeprefix(STEP_MARKER).strip()
            elif line.startswith(DIGEST_MARKER):
                run.digest = line.removeprefix(DIGEST_MARKER).strip()
            else:
                run.tail.append(line)
                try:
                    await emit(line)
                except Exception:  # a lost terminal or database must not stop the reading
                    log.exception("cannot pass on a line of build output")

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
        auth = (self.registry.username, self.registry.password) if self.registry.username else None
        url = f"http://{self.registry.address}/v2/{project}/manifests/{tag}"
        try:
            async with httpx.AsyncClient(auth=auth, timeout=30) as client:
                response = await client.head(url, headers={"Accept": _MANIFEST_TYPES})
        except httpx.HTTPError as exc:
            raise BuildFailed(f"cannot reach the registry to check the image: {exc!r}") from exc
        if response.status_code == 404:
            return ""
        if response.status_code != 200:
            raise BuildFailed(f"the registry answered {response.status_code} for {url}")
        return str(response.headers.get("Docker-Content-Digest", ""))


def _task_state(alloc: dict[str, Any]) -> str:
    return str(((alloc.get("TaskStates") or {}).get(TASK) or {}).get("State", ""))


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
    try:
        yield NomadBuilder(
            nomad=api,
            archive=archive,
            registry=RegistryAccess(
                settings.registry.address, settings.registry.username, settings.registry.password
            ),
            build=settings.build,
            nomad_settings=settings.nomad,
            host_network=settings.apps.profile == "dev",
        )
    finally:
        await api.aclose()
        await archive.close()
