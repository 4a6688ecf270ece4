"""What the gateway answers, as msgspec Structs (the contract table of the Gateway issue).

Fields the contract names are required; fields it leaves implicit (``…``) have defaults, so
a gateway that adds fields, or omits an optional one, still decodes. Unknown fields are
ignored. Timestamps are timezone-aware :class:`~datetime.datetime`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import msgspec

ProjectKind = Literal["container", "function"]


class Schema(msgspec.Struct, kw_only=True):
    """Base of every answer: keyword-only, compared by value."""


class Account(Schema):
    """``POST /auth/signup``."""

    id: str
    email: str


class Session(Schema):
    """``POST /auth/login``: a bearer token and when it stops working."""

    token: str
    expires_at: dt.datetime | None = None


class Revoked(Schema):
    """``POST /auth/password`` and ``POST /tokens/revoke-all``: how many tokens ended."""

    revoked: int


class Me(Schema):
    """``GET /me``."""

    id: str
    email: str
    created_at: dt.datetime | None = None


class Token(Schema):
    """One live token as listed: ``kind`` is ``session`` (a login) or ``api``; never the secret."""

    id: str
    name: str
    kind: str = ""
    created_at: dt.datetime | None = None
    expires_at: dt.datetime | None = None
    last_used_at: dt.datetime | None = None


class NewToken(Schema):
    """``POST /tokens``: the only time the secret is shown."""

    id: str
    name: str
    token: str
    expires_at: dt.datetime | None = None


class Key(Schema):
    """One SSH public key."""

    id: str
    name: str
    fingerprint: str
    key_type: str = ""
    created_at: dt.datetime | None = None


class Project(Schema):
    """One project, with its git remote and public URL."""

    name: str
    kind: ProjectKind = "container"
    git_url: str = ""
    url: str = ""
    status: str = ""
    current_release: int | None = None
    created_at: dt.datetime | None = None
    instances: int | None = None
    cpu: int | None = None
    memory: int | None = None
    idle_timeout: int | None = None
    scale_to_zero: bool | None = None
    asleep: bool | None = None
    invocations: int | None = None


class ColdStart(Schema):
    """One wake of a sleeping project: ms from its first request to each phase."""

    created_at: dt.datetime
    release: int | None = None
    requests: int = 1
    placed_ms: int | None = None
    image_ready_ms: int | None = None
    started_ms: int | None = None
    first_answer_ms: int | None = None
    total_ms: int | None = None


class Env(Schema):
    """``GET/PATCH /projects/{name}/env``: the variables (masked unless revealed)."""

    env: dict[str, str]
    masked: bool = True
    release: int | None = None
    """The release a change created, when there was something to redeploy."""


class Scaled(Schema):
    """``POST /projects/{name}/scale`` (202)."""

    name: str
    instances: int
    applied: bool = True
    """False when the project has no release yet: the count waits for its first deploy."""


class Build(Schema):
    """One image build from one commit."""

    id: str
    status: str = ""
    number: int | None = None
    ref: str = ""
    commit_sha: str = ""
    image: str = ""
    digest: str = ""
    """The pushed image's ``sha256:…`` digest (releases run it by digest)."""
    error: str = ""
    created_at: dt.datetime | None = None
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    queue_position: int | None = None
    """For a queued build, its place in the build queue (1 builds next)."""


class Release(Schema):
    """An immutable (image, config) pair, numbered v1, v2, … per project."""

    version: int
    status: str = ""
    description: str = ""
    image: str = ""
    digest: str = ""
    reason: str = ""
    build: str | None = None
    created_at: dt.datetime | None = None


class Instance(Schema):
    """One running allocation."""

    id: str
    status: str
    started_at: dt.datetime | None = None
    address: str = ""
    release: int | None = None


class LogLine(Schema):
    """One runtime log line of one instance (one NDJSON line of ``/logs``)."""

    ts: dt.datetime
    instance: str
    stream: str
    line: str


class Domain(Schema):
    """A custom hostname routed to a project."""

    hostname: str
    project: str = ""
    created_at: dt.datetime | None = None
    verified: bool = False
    """Routed only once verified (the DNS TXT challenge holds the token)."""
    challenge_record: str = ""
    challenge_value: str = ""


class AuditEvent(Schema):
    """Who did what to which target, when and from where."""

    action: str
    actor: str = ""
    target: str = ""
    ip: str = ""
    created_at: dt.datetime | None = None
    detail: dict[str, Any] = msgspec.field(default_factory=dict)
    id: int | str | None = None


class Problem(Schema):
    """An RFC 9457 ``application/problem+json`` body (every field optional on purpose)."""

    title: str = ""
    status: int | None = None
    detail: str = ""
    type: str = ""
    errors: Any = None
    extra: Any = None
