"""The image registry's HTTP API, as the platform's user: what a deleted project leaves.

Distribution removes an image by its manifest digest (deletes are enabled in the dev
registry); every tag of the repository goes, so no build of the project is left behind.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import httpx

from paastech.errors import BackendUnavailable
from paastech.settings import RegistrySettings

MANIFESTS = ", ".join(
    (
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
    )
)

CATALOG_PAGE = 1000
"""Repositories per catalog page (Distribution refuses more than its ``maxentries``, 1000)."""


@contextlib.contextmanager
def map_registry_errors(what: str) -> Iterator[None]:
    """Transport failures and unexpected answers of the registry become BackendUnavailable."""
    try:
        yield
    except httpx.HTTPStatusError as exc:
        raise BackendUnavailable(f"registry: {what}: status {exc.response.status_code}") from exc
    except httpx.HTTPError as exc:
        raise BackendUnavailable(f"registry: {what}: {type(exc).__name__}") from exc


class RegistryApi:
    """A small client of the registry's v2 API with the platform's credentials."""

    def __init__(self, registry: RegistrySettings) -> None:
        self.registry = registry

    def _client(self) -> httpx.AsyncClient:
        auth = (self.registry.username, self.registry.password) if self.registry.password else None
        return httpx.AsyncClient(
            base_url=f"http://{self.registry.address}", auth=auth, timeout=30.0
        )

    async def tags(self, repository: str) -> list[str]:
        """The repository's tags (empty when it has none or does not exist)."""
        async with self._client() as client:
            return await _tags(client, repository)

    async def repositories(self) -> list[str]:
        """Every repository the registry holds (its catalog, read a page at a time)."""
        names: list[str] = []
        async with self._client() as client:
            while True:
                params: dict[str, str | int] = {"n": CATALOG_PAGE}
                if names:
                    params["last"] = names[-1]
                with map_registry_errors("catalog"):
                    r = await client.get("/v2/_catalog", params=params)
                    r.raise_for_status()
                page = list(r.json().get("repositories") or [])
                names += page
                if len(page) < CATALOG_PAGE or "next" not in r.headers.get("Link", ""):
                    return names

    async def manifests(self, repository: str) -> dict[str, str]:
        """The repository's tags and the manifest digest each points at."""
        async with self._client() as client:
            found = {
                tag: await _digest(client, repository, tag)
                for tag in await _tags(client, repository)
            }
        return {tag: digest for tag, digest in found.items() if digest is not None}

    async def delete_manifest(self, repository: str, digest: str) -> None:
        """Delete the manifest ``digest`` of ``repository``, and so every tag pointing at it."""
        async with self._client() as client:
            await _delete(client, repository, digest)

    async def delete_repository(self, repository: str) -> int:
        """Delete every tagged manifest of ``repository``; how many were deleted."""
        deleted = 0
        async with self._client() as client:
            for tag in await _tags(client, repository):
                digest = await _digest(client, repository, tag)
                if digest is not None:
                    await _delete(client, repository, digest)
                    deleted += 1
        return deleted


async def _tags(client: httpx.AsyncClient, repository: str) -> list[str]:
    with map_registry_errors(f"tags of {repository}"):
        r = await client.get(f"/v2/{repository}/tags/list")
        if r.status_code == 404:
            return []
        r.raise_for_status()
        return list(r.json().get("tags") or [])


async def _digest(client: httpx.AsyncClient, repository: str, tag: str) -> str | None:
    with map_registry_errors(f"manifest of {repository}:{tag}"):
        head = await client.head(f"/v2/{repository}/manifests/{tag}", headers={"Accept": MANIFESTS})
        if head.status_code == 404:
            return None
        head.raise_for_status()
        return head.headers["Docker-Content-Digest"]


async def _delete(client: httpx.AsyncClient, repository: str, digest: str) -> None:
    with map_registry_errors(f"delete {repository}@{digest}"):
        r = await client.delete(f"/v2/{repository}/manifests/{digest}")
        if r.status_code not in {202, 404}:
            r.raise_for_status()
