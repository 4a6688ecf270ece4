"""Request and response bodies of the REST API (msgspec; unknown request keys are a 422)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
from msgspec import Meta

from paastech.gateway.validation import (
    EMAIL_MAX,
    EMAIL_PATTERN,
    INT4_MAX,
    PROJECT_NAME_PATTERN,
    TEXT_PATTERN,
)


class Input(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Base of request bodies: unknown keys are refused (and named) rather than ignored."""


class Output(msgspec.Struct, kw_only=True):
    """Base of response bodies."""


Email = Annotated[str, Meta(pattern=EMAIL_PATTERN, max_length=EMAIL_MAX)]
Name = Annotated[str, Meta(min_length=1, max_length=100, pattern=TEXT_PATTERN)]
#: A count or size stored in a PostgreSQL ``integer`` column.
Int4 = Annotated[int, Meta(ge=0, le=INT4_MAX)]
Positive4 = Annotated[int, Meta(ge=1, le=INT4_MAX)]


# --- problems -----------------------------------------------------------------------------


class Problem(Output, omit_defaults=True, kw_only=True):
    """RFC 9457 problem details; ``errors`` names each invalid field (422)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str = ""
    instance: str = ""
    errors: dict[str, str] = msgspec.field(default_factory=dict)


# --- accounts and tokens --------------------------------------------------------------------


class Credentials(Input):
    email: Email
    password: Annotated[str, Meta(min_length=1, max_length=1024)]


class SignupBody(Input):
    email: Email
    password: Annotated[str, Meta(min_length=10, max_length=1024)]


class PasswordChange(Input):
    current_password: Annotated[str, Meta(min_length=1, max_length=1024)]
    new_password: Annotated[str, Meta(min_length=10, max_length=1024)]


class RevokedOut(Output):
    revoked: int
    """How many tokens this call revoked."""


class ClientOut(Output):
    id: UUID
    email: str


class MeOut(Output):
    id: UUID
    email: str
    created_at: dt.datetime


class LoginOut(Output):
    token: str
    expires_at: dt.datetime


class TokenCreate(Input):
    name: Name
    expires_in_days: Annotated[int, Meta(ge=1, le=3650)] | None = None


class TokenCreated(Output):
    id: UUID
    name: str
    token: str
    expires_at: dt.datetime | None


class TokenOut(Output):
    id: UUID
    name: str
    kind: str
    created_at: dt.datetime
    expires_at: dt.datetime | None
    last_used_at: dt.datetime | None


# --- ssh keys ------------------------------------------------------------------------------


class KeyCreate(Input):
    name: Name
    public_key: Annotated[str, Meta(min_length=1, max_length=16384)]


class KeyOut(Output):
    id: UUID
    name: str
    fingerprint: str
    key_type: str
    created_at: dt.datetime


# --- projects ------------------------------------------------------------------------------

Kind = Literal["container", "function"]


class ProjectCreate(Input):
    name: Annotated[str, Meta(pattern=PROJECT_NAME_PATTERN)]
    kind: Kind = "container"


class ProjectPatch(Input):
    """Only the given fields change; limits come from the ``apps`` settings (422 outside)."""

    instances: Int4 | None = None
    cpu: Positive4 | None = None
    memory: Positive4 | None = None
    idle_timeout: Positive4 | None = None
    scale_to_zero: bool | None = None


class ProjectOut(Output):
    name: str
    kind: str
    git_url: str
    url: str
    status: str
    current_release: int | None
    instances: int
    cpu: int
    memory: int
    idle_timeout: int
    scale_to_zero: bool
    asleep: bool
    """Scaled to zero by the idler; the next request wakes it."""
    invocations: int
    """Requests its instances answered (counted by the function shim, or the activator)."""
    created_at: dt.datetime
    updated_at: dt.datetime


class ColdStartOut(Output):
    """One wake of a sleeping project: ms from its first request to each phase."""

    created_at: dt.datetime
    release: int | None
    requests: int
    placed_ms: int | None
    image_ready_ms: int | None
    started_ms: int | None
    first_answer_ms: int | None
    total_ms: int | None


class ScaleBody(Input):
    instances: Int4


class ScaleOut(Output):
    name: str
    instances: int
    applied: bool
    """False when the project has no release yet: the count is stored for its first deploy."""


# --- env -----------------------------------------------------------------------------------


class EnvOut(Output):
    env: dict[str, str]
    masked: bool
    release: int | None = None
    """The release created by this change, when the project had something to redeploy."""


# --- builds and releases -------------------------------------------------------------------


class BuildOut(Output):
    id: UUID
    number: int
    status: str
    ref: str
    commit_sha: str
    image: str
    digest: str
    error: str
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    job_running_at: dt.datetime | None = None
    """When the Nomad build job's task started running."""
    plan: dict[str, Any] = msgspec.field(default_factory=dict)
    """What detection found: kind, runtime, port, health_path, command, handler, processes."""
    queue_position: int | None = None
    """For a queued build: 1 + the builds queued before it (of any project); else null."""


class ReleaseOut(Output):
    version: int
    status: str
    reason: str
    description: str
    image: str
    digest: str
    build: UUID | None
    created_at: dt.datetime


class RollbackBody(Input):
    version: Positive4


class InstanceOut(Output):
    id: str
    status: str
    started_at: dt.datetime | None
    address: str
    release: int | None


# --- domains and audit ---------------------------------------------------------------------


class DomainCreate(Input):
    hostname: Annotated[str, Meta(min_length=3, max_length=253)]


class DomainOut(Output):
    hostname: str
    project: str
    created_at: dt.datetime
    verified: bool
    """Routed only when true."""
    verified_at: dt.datetime | None
    challenge_record: str
    """Where to publish the TXT record proving control of ``hostname``."""
    challenge_value: str
    """What the TXT record must hold."""


class AuditOut(Output):
    id: int
    actor: str
    action: str
    target: str
    ip: str
    detail: dict[str, Any]
    created_at: dt.datetime


# --- health --------------------------------------------------------------------------------


class ComponentOut(Output):
    ok: bool
    reason: str


class HealthOut(Output):
    status: str


class ReadyOut(Output):
    status: str
    components: dict[str, ComponentOut]
