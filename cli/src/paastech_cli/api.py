"""Typed async client for the PaaSTech gateway: one method per route of the contract.

Shared by the CLI and the dashboard, so it knows nothing about terminals: it takes plain
values, returns :mod:`~paastech_cli.schemas` Structs and raises :mod:`~paastech_cli.errors`
(transport failures and problem+json answers are mapped there, once; an answer that does not
decode is a :class:`~paastech_cli.errors.ProtocolError`). The streaming methods (``logs``,
``build_log``) are async generators: wrap them in :func:`contextlib.aclosing` so leaving
early closes the HTTP stream at once.

    async with GatewayClient("http://127.0.0.1:8000", token=token) as gw:
        for project in await gw.list_projects():
            print(project.name, project.url)
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import quote

import httpx
import msgspec

from paastech_cli import __version__
from paastech_cli.errors import ProtocolError, map_transport_errors, problem_error
from paastech_cli.schemas import (
    Account,
    AuditEvent,
    Build,
    ColdStart,
    Domain,
    Env,
    Instance,
    Key,
    LogLine,
    Me,
    NewToken,
    Project,
    ProjectKind,
    Release,
    Revoked,
    Scaled,
    Session,
    Token,
)

T = TypeVar("T")

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
# A followed stream may stay silent for as long as the app prints nothing.
FOLLOW_TIMEOUT = httpx.Timeout(30.0, connect=5.0, read=None)


def _seg(value: str) -> str:
    """One path segment, escaped so a name can never walk to another route."""
    return quote(value, safe="")


class GatewayClient:
    """The gateway's REST API (``/api/v1``), authenticated with a bearer token.

    Args:
        base_url: Where the gateway listens, e.g. ``http://127.0.0.1:8000``.
        token: Bearer token (from login or ``tokens create``); None for signup/login.
        transport: An httpx transport to use instead of the network (tests, in-process apps).
        timeout: Per-request timeout; followed streams never time out on reads.
        headers: More headers on every request (the dashboard's ``X-Forwarded-For``).
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {
            **(headers or {}),
            "User-Agent": f"paastech-cli/{__version__}",
            "Accept": "application/json",
        }
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.AsyncClient(
            base_url=self.base_url, headers=headers, transport=transport, timeout=timeout
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    # -- plumbing -----------------------------------------------------------------------------

    async def _send(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str | int] | None = None,
    ) -> httpx.Response:
        content = None if json is None else msgspec.json.encode(json)
        headers = {"Content-Type": "application/json"} if content is not None else None
        with map_transport_errors(self.base_url):
            response = await self._http.request(
                method, path, content=content, headers=headers, params=params
            )
        if response.is_error:
            raise problem_error(response)
        return response

    def _decode(self, response: httpx.Response, typ: type[T]) -> T:
        try:
            return msgspec.json.decode(response.content, type=typ)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise ProtocolError(
                f"unexpected answer from {response.request.method} {response.request.url.path}:"
                f" {exc}",
                status=response.status_code,
            ) from exc

    def _decode_list(self, response: httpx.Response, item: type[T]) -> list[T]:
        """A list answer, bare (``[…]``) or paged (``{"items": […]}``)."""
        raw = self._decode(response, object)
        if isinstance(raw, dict) and isinstance(raw.get("items"), list):
            raw = raw["items"]
        try:
            return msgspec.convert(raw, list[item])  # type: ignore[valid-type]
        except msgspec.ValidationError as exc:
            raise ProtocolError(
                f"unexpected answer from {response.request.url.path}: {exc}",
                status=response.status_code,
            ) from exc

    async def _stream_lines(
        self, path: str, params: Mapping[str, str | int], *, follow: bool
    ) -> AsyncGenerator[tuple[str, str], None]:
        """Yield (content type, line) for each line of a (possibly endless) answer: every line
        of plain text (a build log keeps its blank lines), every non-empty line of NDJSON."""
        timeout = FOLLOW_TIMEOUT if follow else self._http.timeout
        with map_transport_errors(self.base_url):
            async with self._http.stream("GET", path, params=params, timeout=timeout) as response:
                if response.is_error:
                    await response.aread()
                    raise problem_error(response)
                kind = response.headers.get("content-type", "").split(";")[0].strip()
                async for line in response.aiter_lines():
                    if line.strip() or not kind.endswith("ndjson"):
                        yield kind, line

    # -- accounts -----------------------------------------------------------------------------

    async def signup(self, email: str, password: str) -> Account:
        """Create an account (``POST /auth/signup``)."""
        body = {"email": email, "password": password}
        return self._decode(await self._send("POST", "/api/v1/auth/signup", json=body), Account)

    async def login(self, email: str, password: str) -> Session:
        """Exchange email and password for a session token (``POST /auth/login``)."""
        body = {"email": email, "password": password}
        return self._decode(await self._send("POST", "/api/v1/auth/login", json=body), Session)

    async def logout(self) -> None:
        """Revoke the token this client uses (``POST /auth/logout``)."""
        await self._send("POST", "/api/v1/auth/logout")

    async def change_password(self, current: str, new: str) -> int:
        """Change the password (``POST /auth/password``); returns the sessions it revoked."""
        body = {"current_password": current, "new_password": new}
        response = await self._send("POST", "/api/v1/auth/password", json=body)
        return self._decode(response, Revoked).revoked

    async def me(self) -> Me:
        """The account the token belongs to (``GET /me``)."""
        return self._decode(await self._send("GET", "/api/v1/me"), Me)

    # -- tokens -------------------------------------------------------------------------------

    async def list_tokens(self) -> list[Token]:
        return self._decode_list(await self._send("GET", "/api/v1/tokens"), Token)

    async def create_token(self, name: str, expires_in_days: int | None = None) -> NewToken:
        """Create an API token; the answer holds the secret, shown only this once."""
        body: dict[str, Any] = {"name": name}
        if expires_in_days is not None:
            body["expires_in_days"] = expires_in_days
        return self._decode(await self._send("POST", "/api/v1/tokens", json=body), NewToken)

    async def revoke_token(self, token_id: str) -> None:
        await self._send("DELETE", f"/api/v1/tokens/{_seg(token_id)}")

    async def revoke_all_tokens(self) -> int:
        """Revoke every token of the account, this one included; returns how many."""
        response = await self._send("POST", "/api/v1/tokens/revoke-all")
        return self._decode(response, Revoked).revoked

    # -- SSH keys -----------------------------------------------------------------------------

    async def list_keys(self) -> list[Key]:
        return self._decode_list(await self._send("GET", "/api/v1/keys"), Key)

    async def add_key(self, name: str, public_key: str) -> Key:
        body = {"name": name, "public_key": public_key}
        return self._decode(await self._send("POST", "/api/v1/keys", json=body), Key)

    async def remove_key(self, key_id: str) -> None:
        await self._send("DELETE", f"/api/v1/keys/{_seg(key_id)}")

    # -- projects -----------------------------------------------------------------------------

    async def list_projects(self) -> list[Project]:
        return self._decode_list(await self._send("GET", "/api/v1/projects"), Project)

    async def create_project(self, name: str, kind: ProjectKind | None = None) -> Project:
        body: dict[str, Any] = {"name": name}
        if kind is not None:
            body["kind"] = kind
        return self._decode(await self._send("POST", "/api/v1/projects", json=body), Project)

    async def get_project(self, name: str) -> Project:
        return self._decode(await self._send("GET", f"/api/v1/projects/{_seg(name)}"), Project)

    async def update_project(
        self,
        name: str,
        *,
        instances: int | None = None,
        cpu: int | None = None,
        memory: int | None = None,
        idle_timeout: int | None = None,
        scale_to_zero: bool | None = None,
    ) -> Project:
        """Change resources and scaling; only the arguments given are sent."""
        given = {
            "instances": instances,
            "cpu": cpu,
            "memory": memory,
            "idle_timeout": idle_timeout,
            "scale_to_zero": scale_to_zero,
        }
        body = {k: v for k, v in given.items() if v is not None}
        response = await self._send("PATCH", f"/api/v1/projects/{_seg(name)}", json=body)
        return self._decode(response, Project)

    async def delete_project(self, name: str) -> None:
        """Stop the app and remove the project with its repo, images and data."""
        await self._send("DELETE", f"/api/v1/projects/{_seg(name)}")

    # -- environment --------------------------------------------------------------------------

    async def get_env(self, project: str, *, reveal: bool = False) -> Env:
        """The project's variables; values are masked unless ``reveal``."""
        params = {"reveal": "true"} if reveal else None
        response = await self._send("GET", f"/api/v1/projects/{_seg(project)}/env", params=params)
        return self._decode(response, Env)

    async def update_env(self, project: str, changes: Mapping[str, str | None]) -> Env:
        """Set (str) or unset (None) many variables at once; a new release follows."""
        path = f"/api/v1/projects/{_seg(project)}/env"
        return self._decode(await self._send("PATCH", path, json=dict(changes)), Env)

    # -- builds and releases ------------------------------------------------------------------

    async def list_builds(self, project: str) -> list[Build]:
        response = await self._send("GET", f"/api/v1/projects/{_seg(project)}/builds")
        return self._decode_list(response, Build)

    async def get_build(self, project: str, build_id: str) -> Build:
        path = f"/api/v1/projects/{_seg(project)}/builds/{_seg(build_id)}"
        return self._decode(await self._send("GET", path), Build)

    async def build_log(
        self, project: str, build_id: str, *, follow: bool = False
    ) -> AsyncGenerator[str, None]:
        """The build's kept output, line by line; ``follow`` keeps streaming until it ends."""
        path = f"/api/v1/projects/{_seg(project)}/builds/{_seg(build_id)}/log"
        params = {"follow": "true" if follow else "false"}
        async for kind, line in self._stream_lines(path, params, follow=follow):
            yield _build_line(kind, line)

    async def list_releases(self, project: str) -> list[Release]:
        response = await self._send("GET", f"/api/v1/projects/{_seg(project)}/releases")
        return self._decode_list(response, Release)

    async def cold_starts(self, project: str) -> list[ColdStart]:
        """The project's latest wakes, newest first."""
        response = await self._send("GET", f"/api/v1/projects/{_seg(project)}/cold-starts")
        return self._decode_list(response, ColdStart)

    async def rollback(self, project: str, version: int) -> Release | None:
        """Run release ``version`` again as a new release; returns it when the gateway does."""
        path = f"/api/v1/projects/{_seg(project)}/rollback"
        response = await self._send("POST", path, json={"version": version})
        if not response.content:
            return None
        return self._decode(response, Release)

    # -- running app --------------------------------------------------------------------------

    async def scale(self, project: str, instances: int) -> Scaled:
        """Ask for ``instances`` running copies (accepted, applied asynchronously)."""
        path = f"/api/v1/projects/{_seg(project)}/scale"
        response = await self._send("POST", path, json={"instances": instances})
        if not response.content:
            return Scaled(name=project, instances=instances)
        return self._decode(response, Scaled)

    async def instances(self, project: str) -> list[Instance]:
        response = await self._send("GET", f"/api/v1/projects/{_seg(project)}/instances")
        return self._decode_list(response, Instance)

    async def logs(
        self, project: str, *, lines: int = 100, follow: bool = False
    ) -> AsyncGenerator[LogLine, None]:
        """Runtime logs of all instances, merged; ``follow`` streams until closed."""
        path = f"/api/v1/projects/{_seg(project)}/logs"
        params = {"lines": lines, "follow": "true" if follow else "false"}
        async for _, line in self._stream_lines(path, params, follow=follow):
            try:
                yield msgspec.json.decode(line, type=LogLine)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                raise ProtocolError(f"unexpected log line from the gateway: {exc}") from exc

    # -- domains and audit --------------------------------------------------------------------

    async def list_domains(self, project: str) -> list[Domain]:
        response = await self._send("GET", f"/api/v1/projects/{_seg(project)}/domains")
        return self._decode_list(response, Domain)

    async def add_domain(self, project: str, hostname: str) -> Domain:
        path = f"/api/v1/projects/{_seg(project)}/domains"
        response = await self._send("POST", path, json={"hostname": hostname})
        if not response.content:
            return Domain(hostname=hostname)
        return self._decode(response, Domain)

    async def verify_domain(self, project: str, hostname: str) -> Domain:
        """Ask the gateway to check the domain's DNS TXT challenge (422 while it fails)."""
        path = f"/api/v1/projects/{_seg(project)}/domains/{_seg(hostname)}/verify"
        return self._decode(await self._send("POST", path), Domain)

    async def remove_domain(self, project: str, hostname: str) -> None:
        await self._send("DELETE", f"/api/v1/projects/{_seg(project)}/domains/{_seg(hostname)}")

    async def audit(self, *, limit: int = 100, before: int | None = None) -> list[AuditEvent]:
        """The account's own audit events, newest first; ``before`` pages to older ids."""
        params: dict[str, str | int] = {"limit": limit}
        if before is not None:
            params["before"] = before
        response = await self._send("GET", "/api/v1/audit", params=params)
        return self._decode_list(response, AuditEvent)


def _build_line(kind: str, line: str) -> str:
    """A build log line: NDJSON ``{"line": …}`` objects are unwrapped, plain text kept."""
    if "json" not in kind:
        return line
    try:
        obj = msgspec.json.decode(line)
    except msgspec.DecodeError:
        return line
    if isinstance(obj, dict):
        return str(obj.get("line", obj.get("message", line)))
    return str(obj)
