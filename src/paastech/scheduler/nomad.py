"""The one adapter around Nomad's HTTP API (httpx async), with Nomad's errors mapped once.

Builds (the forge), the scheduler and the gateway's read paths (instances, logs) all talk
to Nomad through :class:`NomadApi`; nothing in here knows about builds or releases. Every
request sends ``X-Nomad-Token``; waits use Nomad's
blocking queries (``index`` + ``wait``), never a busy poll. :func:`map_nomad_errors` is
the one place foreign errors become the domain tree:

- connection failures and 5xx → :class:`NomadUnavailable`
- 403 → :class:`PermissionDenied` (the platform's token lacks a capability)
- 404 → :class:`NotFound`
- any other 4xx → :class:`InvalidInput` (Nomad refused what we sent; a bug on our side)
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx

from paastech.errors import InvalidInput, NomadUnavailable, NotFound, PermissionDenied
from paastech.settings import NomadSettings

BLOCKING_WAIT = "30s"
_RETRIES = 4
_TERMINAL = {"complete", "failed", "lost"}


@contextlib.contextmanager
def map_nomad_errors(what: str) -> Iterator[None]:
    """Turn httpx and Nomad HTTP errors raised inside the block into domain errors."""
    try:
        yield
    except httpx.HTTPStatusError as exc:
        status = exc.response.status_code
        text = exc.response.text.strip()[:300]
        message = f"nomad: {what}: {status} {text}".rstrip()
        if status == 403:
            raise PermissionDenied(message) from exc
        if status == 404:
            raise NotFound(message) from exc
        if status >= 500 or status == 429:
            # 429: the agent's per-client connection limit; busy, not a refusal of the call.
            raise NomadUnavailable(message) from exc
        raise InvalidInput(message) from exc
    except httpx.HTTPError as exc:
        raise NomadUnavailable(f"nomad: {what}: {exc!r}") from exc


def _busy(method: str, response: httpx.Response, attempt: int) -> bool:
    """A read the agent turned away for too many connections (429), worth another try."""
    return method == "GET" and response.status_code == 429 and attempt < _RETRIES - 1


def is_terminal(alloc: dict[str, Any]) -> bool:
    """The allocation has finished (its client says so)."""
    return str(alloc.get("ClientStatus", "")) in _TERMINAL


class NomadApi:
    """A thin async client of the Nomad endpoints the platform uses."""

    def __init__(self, settings: NomadSettings, *, client: httpx.AsyncClient | None = None) -> None:
        self._settings = settings
        headers = {"X-Nomad-Token": settings.token} if settings.token else {}
        self._client = client or httpx.AsyncClient(
            base_url=settings.address.rstrip("/"),
            headers=headers,
            timeout=httpx.Timeout(60.0, connect=5.0),
            # Below the agent's per-address limit: blocking queries hold theirs for seconds.
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
        )
        self._params = {"namespace": settings.namespace, "region": settings.region}

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _json(self, method: str, path: str, what: str, **kwargs: Any) -> Any:
        params = {**self._params, **kwargs.pop("params", {})}
        with map_nomad_errors(what):
            for attempt in range(_RETRIES):
                response = await self._client.request(method, path, params=params, **kwargs)
                if not _busy(method, response, attempt):
                    break
                await asyncio.sleep(0.1 * (attempt + 1))
            response.raise_for_status()
            return response.json() if response.content else None

    async def _blocking(self, path: str, what: str, index: int) -> tuple[Any, int]:
        params = {**self._params, "index": str(index), "wait": BLOCKING_WAIT}
        with map_nomad_errors(what):
            for attempt in range(_RETRIES):
                try:
                    response = await self._client.get(path, params=params, timeout=90.0)
                    if not _busy("GET", response, attempt):
                        break
                    await asyncio.sleep(0.1 * (attempt + 1))
                except (httpx.RemoteProtocolError, httpx.ConnectError):
                    # A pooled keep-alive connection Nomad had just closed: a GET is safe to
                    # repeat; a Nomad that stays away ends as NomadUnavailable.
                    if attempt == _RETRIES - 1:
                        raise
                    await asyncio.sleep(0.2 * (attempt + 1))
            response.raise_for_status()
            return response.json(), int(response.headers.get("X-Nomad-Index", index))

    # -- jobs ----------------------------------------------------------------------------

    async def register_job(self, job: dict[str, Any]) -> dict[str, Any]:
        """Submit (or update) ``job``; Nomad's answer (``EvalID``, ``JobModifyIndex`` …)."""
        answer: dict[str, Any] = await self._json(
            "POST", "/v1/jobs", f"register {job['ID']}", json={"Job": job}
        )
        return answer

    async def job(self, job_id: str) -> dict[str, Any]:
        """The job. Raises NotFound when Nomad has none by that id."""
        found: dict[str, Any] = await self._json("GET", f"/v1/job/{job_id}", f"read {job_id}")
        return found

    async def deregister_job(self, job_id: str, *, purge: bool = True) -> None:
        """Stop the job (and, with ``purge``, forget it at once). A missing job is fine."""
        with contextlib.suppress(NotFound):
            await self._json(
                "DELETE",
                f"/v1/job/{job_id}",
                f"stop {job_id}",
                params={"purge": "true" if purge else "false"},
            )

    async def job_allocations(self, job_id: str, index: int = 0) -> tuple[list[Any], int]:
        """The job's allocations; with ``index``, waits until they change past it."""
        found, new_index = await self._blocking(
            f"/v1/job/{job_id}/allocations", f"allocations of {job_id}", index
        )
        return list(found or []), new_index

    async def allocation(self, alloc_id: str, index: int = 0) -> tuple[dict[str, Any], int]:
        """One allocation; with ``index``, waits until it changes past it."""
        found, new_index = await self._blocking(
            f"/v1/allocation/{alloc_id}", f"allocation {alloc_id}", index
        )
        return dict(found), new_index

    # -- variables -----------------------------------------------------------------------

    async def put_variable(self, path: str, items: dict[str, str]) -> None:
        """Create or replace the variable at ``path``."""
        body = {"Namespace": self._settings.namespace, "Path": path, "Items": items}
        await self._json("PUT", f"/v1/var/{path}", f"write variable {path}", json=body)

    async def delete_variable(self, path: str) -> None:
        """Delete the variable at ``path`` (a missing one is fine)."""
        with contextlib.suppress(NotFound):
            await self._json("DELETE", f"/v1/var/{path}", f"delete variable {path}")

    # -- logs ----------------------------------------------------------------------------

    async def logs(
        self, alloc_id: str, task: str, stream: str, *, offset: int = 0, follow: bool = False
    ) -> AsyncIterator[bytes]:
        """The task's ``stream`` (stdout/stderr) from byte ``offset``, as it is written.

        With ``follow`` the iterator never ends on its own (Nomad keeps the stream open after
        the task dies); the caller cancels it once the allocation is terminal and reads the
        rest without ``follow``.
        """
        params = {
            **self._params,
            "task": task,
            "type": stream,
            "origin": "start",
            "offset": str(offset),
            "plain": "true",
            "follow": "true" if follow else "false",
        }
        with map_nomad_errors(f"{stream} of {alloc_id}"):
            # identity: Nomad's gzip writer would hold lines back until its buffer fills.
            async with self._client.stream(
                "GET",
                f"/v1/client/fs/logs/{alloc_id}",
                params=params,
                headers={"Accept-Encoding": "identity"},
                timeout=None,
            ) as response:
                if response.status_code >= 400:
                    await response.aread()
                    response.raise_for_status()
                async for chunk in response.aiter_bytes():
                    yield chunk

    # -- the scheduler's endpoints ----------------------------------------------------------

    async def job_or_none(self, job_id: str) -> dict[str, Any] | None:
        """The job, or None when Nomad has none by that id (a restarted ``-dev`` agent)."""
        try:
            return await self.job(job_id)
        except NotFound:
            return None

    async def jobs(self, prefix: str) -> list[dict[str, Any]]:
        """Stubs of every job whose id starts with ``prefix``."""
        found = await self._json("GET", "/v1/jobs", "list jobs", params={"prefix": prefix})
        return list(found or [])

    async def latest_deployment(
        self, job_id: str, index: int = 0
    ) -> tuple[dict[str, Any] | None, int]:
        """The job's most recent deployment (None before the first); blocking past ``index``."""
        found, new_index = await self._blocking(
            f"/v1/job/{job_id}/deployment", f"deployment of {job_id}", index
        )
        return (dict(found) if found else None), new_index

    async def deployment(self, deployment_id: str, index: int = 0) -> tuple[dict[str, Any], int]:
        """One deployment; with ``index``, waits until it changes past it."""
        found, new_index = await self._blocking(
            f"/v1/deployment/{deployment_id}", f"deployment {deployment_id}", index
        )
        return dict(found), new_index

    async def scale(self, job_id: str, group: str, count: int, message: str) -> None:
        """Set ``group``'s count through the scale API (never cancels a running deployment).

        Raises:
            InvalidInput: Nomad refused (it answers 400 while a deployment is active).
        """
        body = {"Count": count, "Target": {"Group": group}, "Message": message}
        await self._json("POST", f"/v1/job/{job_id}/scale", f"scale {job_id}", json=body)

    async def service(self, name: str) -> list[dict[str, Any]]:
        """Every registration of the Nomad-native service ``name`` (healthy or not)."""
        try:
            found = await self._json("GET", f"/v1/service/{name}", f"service {name}")
        except NotFound:
            return []
        return list(found or [])

    async def services(self) -> list[str]:
        """The names of every Nomad-native service in the namespace."""
        found = await self._json("GET", "/v1/services", "list services")
        return [
            str(entry["ServiceName"])
            for namespace in found or []
            for entry in namespace.get("Services") or []
        ]

    async def allocation_checks(self, alloc_id: str) -> dict[str, dict[str, Any]]:
        """The latest result of each of the allocation's checks, by check id.

        Nomad v1.6's service list carries no health: this is where it is.
        """
        try:
            found = await self._json(
                "GET", f"/v1/allocation/{alloc_id}/checks", f"checks of {alloc_id}"
            )
        except NotFound:
            return {}
        return dict(found or {})

    # -- the runtime read side (route table, instances, logs) -------------------------------

    async def watch_services(self, index: int = 0) -> tuple[list[str], int]:
        """The names of every native service; with ``index``, waits until a registration
        changes past it (an instance appears, moves or goes)."""
        found, new_index = await self._blocking("/v1/services", "list services", index)
        names = [
            str(entry["ServiceName"])
            for namespace in found or []
            for entry in namespace.get("Services") or []
        ]
        return names, new_index

    async def job_versions(self, job_id: str) -> list[dict[str, Any]]:
        """Every version Nomad keeps of the job, newest first (empty when there is no job)."""
        try:
            found = await self._json("GET", f"/v1/job/{job_id}/versions", f"versions of {job_id}")
        except NotFound:
            return []
        return list((found or {}).get("Versions") or [])

    async def log_size(self, alloc_id: str, task: str, stream: str) -> int:
        """Bytes of the task's ``stream`` Nomad still keeps (all rotated files together), which
        is what ``offset`` of :meth:`logs` counts from the start."""
        try:
            found = await self._json(
                "GET",
                f"/v1/client/fs/ls/{alloc_id}",
                f"log files of {alloc_id}",
                params={"path": "/alloc/logs"},
            )
        except NotFound:
            return 0
        prefix = f"{task}.{stream}."
        return sum(
            int(entry.get("Size") or 0)
            for entry in found or []
            if str(entry.get("Name", "")).startswith(prefix)
            and str(entry["Name"]).removeprefix(prefix).isdigit()
        )

    async def watch_service(self, name: str, index: int = 0) -> tuple[list[dict[str, Any]], int]:
        """The service's registrations; with ``index``, waits until they change past it."""
        try:
            found, new_index = await self._blocking(f"/v1/service/{name}", f"service {name}", index)
        except NotFound:
            return [], index
        return list(found or []), new_index

    async def job_deployments(self, job_id: str) -> list[dict[str, Any]]:
        """Every deployment Nomad keeps of the job (newest first)."""
        try:
            found = await self._json(
                "GET", f"/v1/job/{job_id}/deployments", f"deployments of {job_id}"
            )
        except NotFound:
            return []
        return list(found or [])
