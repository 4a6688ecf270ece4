"""FakeGateway: the Gateway issue's contract, in memory, behind an ``httpx.MockTransport``.

A named fake for unit tests of the CLI: it answers the contract's paths with the contract's
bodies and RFC 9457 problems, keeps state across calls (so a test can sign up, log in, create
a project and see it listed) and records every request. Integration and end-to-end tests use
the real gateway instead.

    gateway = FakeGateway()
    runtime = Runtime(..., transport=gateway.transport)
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

NOW = dt.datetime(2026, 11, 29, 10, 0, tzinfo=dt.UTC)
PROBLEM = "application/problem+json"
_NAME = re.compile(r"^[a-z][a-z0-9-]{2,39}$")
RESERVED = {"api", "www", "admin", "paastech"}


def problem(status: int, title: str, detail: str = "", **extra: Any) -> httpx.Response:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return httpx.Response(status, json=body, headers={"content-type": PROBLEM})


def invalid(**fields: str) -> httpx.Response:
    """422 as the gateway renders it: ``errors`` maps each field to what is wrong."""
    return problem(422, "invalid input", "invalid fields", errors=fields)


@dataclass
class FakeProject:
    name: str
    kind: str
    owner: str
    env: dict[str, str] = field(default_factory=dict)
    releases: list[dict[str, Any]] = field(default_factory=list)
    domains: list[str] = field(default_factory=list)
    builds: list[dict[str, Any]] = field(
        default_factory=lambda: [
            {
                "id": "b-2",
                "number": 2,
                "status": "queued",
                "commit_sha": "def",
                "queue_position": 3,
            },
            {"id": "b-1", "number": 1, "status": "succeeded", "commit_sha": "abc"},
        ]
    )
    instances: int = 1
    live: int | None = None
    """The release that serves (default: the newest)."""
    cpu: int = 200
    memory: int = 256
    idle_timeout: int = 300
    scale_to_zero: bool = False

    def body(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "git_url": f"ssh://git@127.0.0.1:2222/{self.name}.git",
            "url": f"http://{self.name}.apps.localhost:9999/",
            "status": "running" if self.releases else "created",
            "current_release": self.live
            if self.live is not None
            else (self.releases[-1]["version"] if self.releases else None),
            "created_at": NOW.isoformat(),
            "instances": self.instances,
            "cpu": self.cpu,
            "memory": self.memory,
            "idle_timeout": self.idle_timeout,
            "scale_to_zero": self.scale_to_zero,
        }


@dataclass
class FakeGateway:
    """The gateway's contract in memory. Tweak ``backend_up``/``log_lines`` to steer it."""

    accounts: dict[str, str] = field(default_factory=dict)  # email → password
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)  # secret → token row
    proved_domains: set[str] = field(default_factory=set)  # TXT challenge "published"
    verified_domains: set[str] = field(default_factory=set)
    keys: dict[str, dict[str, Any]] = field(default_factory=dict)
    projects: dict[str, FakeProject] = field(default_factory=dict)
    audit: list[dict[str, Any]] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)
    backend_up: bool = True
    log_lines: list[dict[str, str]] = field(default_factory=list)
    build_log: str = "Step 1/2 : FROM paastech/python\nStep 2/2 : CMD python app.py\n"
    # Called for every streamed log line: a test can raise KeyboardInterrupt there.
    on_log_line: Callable[[int], None] | None = None

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    # -- helpers tests use --------------------------------------------------------------------

    def add_account(self, email: str = "ada@example.com", password: str = "correct horse 1") -> str:
        """Create an account with a session token; returns the token."""
        self.accounts[email] = password
        return self.issue(email, "session")

    def add_project(self, owner: str, name: str, kind: str = "container") -> FakeProject:
        project = FakeProject(name=name, kind=kind, owner=owner)
        self.projects[name] = project
        return project

    def release(self, project: FakeProject, description: str = "Deploy abc1234") -> None:
        version = len(project.releases) + 1
        project.releases.append(
            {
                "version": version,
                "status": "running",
                "description": description,
                "image": f"127.0.0.1:5000/{project.name}:v{version}",
                "digest": "sha256:" + "0" * 64,
                "created_at": NOW.isoformat(),
            }
        )

    def paths(self) -> list[str]:
        return [f"{r.method} {r.url.path}" for r in self.requests]

    def issue(self, email: str, kind: str, name: str = "login") -> str:
        secret = secrets.token_urlsafe(16)
        self.tokens[secret] = {
            "id": str(uuid.uuid4()),
            "name": name,
            "email": email,
            "kind": kind,
            "created_at": NOW.isoformat(),
            "expires_at": (NOW + dt.timedelta(days=30)).isoformat(),
            "last_used_at": None,
        }
        return secret

    def _record(self, email: str, action: str, target: str) -> None:
        self.audit.append(
            {
                "id": len(self.audit) + 1,
                "actor": email,
                "action": action,
                "target": target,
                "ip": "127.0.0.1",
                "detail": {},
                "created_at": NOW.isoformat(),
            }
        )

    # -- the transport ------------------------------------------------------------------------

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        body = json.loads(request.content) if request.content else {}
        if path == "/api/v1/auth/signup":
            return self._signup(body)
        if path == "/api/v1/auth/login":
            return self._login(body)
        auth = request.headers.get("authorization", "")
        row = self.tokens.get(auth.removeprefix("Bearer ")) if auth.startswith("Bearer ") else None
        if row is None:
            return problem(401, "Unauthorized", "missing, invalid or expired token")
        return await self._route(request, row, body)

    def _signup(self, body: dict[str, Any]) -> httpx.Response:
        email, password = body.get("email", ""), body.get("password", "")
        if "@" not in email:
            return invalid(email="not an email address")
        if len(password) < 10:
            return invalid(password="at least 10 characters")
        if email in self.accounts:
            return problem(409, "Conflict", "an account with this email exists")
        self.accounts[email] = password
        return httpx.Response(201, json={"id": str(uuid.uuid4()), "email": email})

    def _login(self, body: dict[str, Any]) -> httpx.Response:
        email = body.get("email", "")
        if self.accounts.get(email) != body.get("password"):
            return problem(401, "Unauthorized", "wrong email or password")
        token = self.issue(email, "session")
        expires = self.tokens[token]["expires_at"]
        return httpx.Response(200, json={"token": token, "expires_at": expires})

    async def _route(  # noqa: PLR0911, PLR0912 - one branch per contract route, like a router
        self, request: httpx.Request, row: dict[str, Any], body: Any
    ) -> httpx.Response:
        email = row["email"]
        method, parts = request.method, request.url.path.split("/")[3:]
        match method, parts:
            case "POST", ["auth", "password"]:
                if self.accounts.get(email) != body.get("current_password"):
                    return invalid(current_password="the current password is wrong")
                self.accounts[email] = body["new_password"]
                others = [
                    k
                    for k, v in self.tokens.items()
                    if v["email"] == email and v["kind"] == "session" and v is not row
                ]
                for k in others:
                    del self.tokens[k]
                return httpx.Response(200, json={"revoked": len(others)})
            case "POST", ["tokens", "revoke-all"]:
                mine = [k for k, v in self.tokens.items() if v["email"] == email]
                for k in mine:
                    del self.tokens[k]
                return httpx.Response(200, json={"revoked": len(mine)})
            case "POST", ["auth", "logout"]:
                self.tokens = {k: v for k, v in self.tokens.items() if v is not row}
                return httpx.Response(204)
            case "GET", ["me"]:
                return httpx.Response(
                    200, json={"id": "c-1", "email": email, "created_at": NOW.isoformat()}
                )
            case "GET", ["tokens"]:
                mine = [t for t in self.tokens.values() if t["email"] == email]
                return httpx.Response(200, json=[_public(t) for t in mine])
            case "POST", ["tokens"]:
                secret = self.issue(email, "api", body["name"])
                made = self.tokens[secret]
                return httpx.Response(
                    201, json={"id": made["id"], "name": made["name"], "token": secret}
                )
            case "DELETE", ["tokens", token_id]:
                for secret, t in list(self.tokens.items()):
                    if t["id"] == token_id and t["email"] == email:
                        del self.tokens[secret]
                        return httpx.Response(204)
                return problem(404, "Not Found", "no such token")
            case "GET", ["keys"]:
                mine = [k for k in self.keys.values() if k["email"] == email]
                return httpx.Response(200, json=[_public(k) for k in mine])
            case "POST", ["keys"]:
                if not body.get("public_key", "").startswith(("ssh-ed25519 ", "ssh-rsa ")):
                    return invalid(public_key="not an ed25519, ecdsa or rsa public key")
                key = {
                    "id": str(uuid.uuid4()),
                    "name": body["name"],
                    "fingerprint": "SHA256:" + "A" * 43,
                    "key_type": body["public_key"].split()[0],
                    "created_at": NOW.isoformat(),
                    "email": email,
                }
                self.keys[key["id"]] = key
                return httpx.Response(201, json=_public(key))
            case "DELETE", ["keys", key_id]:
                if self.keys.get(key_id, {}).get("email") != email:
                    return problem(404, "Not Found", "no such key")
                del self.keys[key_id]
                return httpx.Response(204)
            case "GET", ["projects"]:
                mine = [p.body() for p in self.projects.values() if p.owner == email]
                return httpx.Response(200, json=mine)
            case "POST", ["projects"]:
                return self._create_project(email, body)
            case "GET", ["audit"]:
                return httpx.Response(200, json=[e for e in self.audit if e["actor"] == email])
            case _, ["projects", name, *rest]:
                project = self.projects.get(name)
                if project is None or project.owner != email:
                    return problem(404, "Not Found", f"no project named {name}")
                return await self._project_route(request, email, project, rest, body)
        return problem(404, "Not Found", "no such route")

    def _create_project(self, email: str, body: dict[str, Any]) -> httpx.Response:
        name, kind = body.get("name", ""), body.get("kind", "container")
        if not _NAME.match(name) or name in RESERVED:
            return invalid(name="3-40 of a-z, 0-9 and -, starting with a letter; not reserved")
        if kind not in ("container", "function"):
            return invalid(kind="container or function")
        if name in self.projects:
            return problem(409, "Conflict", f"project name {name} is taken")
        project = self.add_project(email, name, kind)
        self._record(email, "project.create", name)
        return httpx.Response(201, json=project.body())

    async def _project_route(  # noqa: PLR0911, PLR0912 - one branch per contract route
        self,
        request: httpx.Request,
        email: str,
        project: FakeProject,
        rest: list[str],
        body: Any,
    ) -> httpx.Response:
        method, query = request.method, request.url.params
        # Routes the real gateway serves through the forge/scheduler: 503 while those are down.
        needs_backend = rest in (["scale"], ["instances"], ["logs"], ["rollback"]) or (
            method == "DELETE" and not rest
        )
        if needs_backend and not self.backend_up:
            return problem(503, "Service Unavailable", "backend unavailable")
        match method, rest:
            case "GET", []:
                return httpx.Response(200, json=project.body())
            case "PATCH", []:
                for field_name in ("instances", "cpu", "memory", "idle_timeout", "scale_to_zero"):
                    if field_name in body:
                        setattr(project, field_name, body[field_name])
                if project.memory > 2048:
                    return invalid(memory="at most 2048")
                return httpx.Response(200, json=project.body())
            case "DELETE", []:
                del self.projects[project.name]
                self._record(email, "project.delete", project.name)
                return httpx.Response(204)
            case "GET", ["env"]:
                reveal = query.get("reveal") == "true"
                env = {k: v if reveal else "****" for k, v in project.env.items()}
                return httpx.Response(200, json={"env": env, "masked": not reveal})
            case "PATCH", ["env"]:
                for key, value in body.items():
                    if value is None:
                        project.env.pop(key, None)
                    else:
                        project.env[key] = value
                self.release(project, "Set env")
                env = dict.fromkeys(project.env, "****")
                version = project.releases[-1]["version"]
                return httpx.Response(200, json={"env": env, "masked": True, "release": version})
            case "GET", ["releases"]:
                return httpx.Response(200, json=project.releases)
            case "POST", ["rollback"]:
                version = body.get("version")
                if not any(r["version"] == version for r in project.releases):
                    return problem(404, "Not Found", f"no release v{version}")
                self.release(project, f"Rollback to v{version}")
                return httpx.Response(201, json=project.releases[-1])
            case "POST", ["scale"]:
                project.instances = body["instances"]
                applied = bool(project.releases)
                return httpx.Response(
                    202,
                    json={"name": project.name, "instances": project.instances, "applied": applied},
                )
            case "GET", ["instances"]:
                return httpx.Response(200, json=_instances(project))
            case "GET", ["logs"]:
                return self._logs(int(query.get("lines", "100")), query.get("follow") == "true")
            case "GET", ["builds"]:
                return httpx.Response(200, json=project.builds)
            case "GET", ["builds", build_id, "log"] if any(
                b["id"] == build_id for b in project.builds
            ):
                return httpx.Response(
                    200, text=self.build_log, headers={"content-type": "text/plain"}
                )
            case "GET", ["domains"]:
                return httpx.Response(
                    200,
                    json=[
                        {
                            "hostname": h,
                            "project": project.name,
                            "created_at": NOW.isoformat(),
                            "verified": h in self.verified_domains,
                            "challenge_record": f"_paastech-challenge.{h}",
                            "challenge_value": "paastech-verify-token",
                        }
                        for h in project.domains
                    ],
                )
            case "POST", ["domains"]:
                project.domains.append(body["hostname"])
                return httpx.Response(
                    201,
                    json={
                        "hostname": body["hostname"],
                        "project": project.name,
                        "created_at": NOW.isoformat(),
                        "verified": False,
                        "challenge_record": f"_paastech-challenge.{body['hostname']}",
                        "challenge_value": "paastech-verify-token",
                    },
                )
            case "POST", ["domains", hostname, "verify"] if hostname in project.domains:
                if hostname not in self.proved_domains:
                    return invalid(hostname=f"_paastech-challenge.{hostname}: no TXT record yet")
                self.verified_domains.add(hostname)
                return httpx.Response(
                    200,
                    json={
                        "hostname": hostname,
                        "project": project.name,
                        "created_at": NOW.isoformat(),
                        "verified": True,
                    },
                )
            case "DELETE", ["domains", hostname] if hostname in project.domains:
                project.domains.remove(hostname)
                return httpx.Response(204)
        return problem(404, "Not Found", "no such route")

    def _logs(self, lines: int, follow: bool) -> httpx.Response:
        chosen = self.log_lines[-lines:] if lines else []

        async def stream() -> AsyncIterator[bytes]:
            for number, entry in enumerate(chosen):
                if self.on_log_line is not None:
                    self.on_log_line(number)
                yield (json.dumps(entry) + "\n").encode()

        return httpx.Response(
            200, content=stream(), headers={"content-type": "application/x-ndjson"}
        )


def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != "email"}


def _instances(project: FakeProject) -> list[dict[str, Any]]:
    version = project.releases[-1]["version"] if project.releases else None
    return [
        {
            "id": f"{n:08x}-aaaa-bbbb-cccc-000000000000",
            "status": "running",
            "started_at": NOW.isoformat(),
            "address": f"127.0.0.1:{20000 + n}",
            "release": version,
        }
        for n in range(project.instances)
    ]


def log_line(n: int, line: str, stream: str = "stdout") -> dict[str, str]:
    ts = (NOW + dt.timedelta(seconds=n)).isoformat()
    return {"ts": ts, "instance": "0000abcd-1111", "stream": stream, "line": line}
