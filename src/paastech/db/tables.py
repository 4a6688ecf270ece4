"""Piccolo tables for the whole platform.

Every row is one join away from its owning Client: Client ← Project ← (EnvVar, Build,
Release, Domain, ColdStart); ApiToken, SshKey and AuditEvent point at the Client directly.
The schema itself is created by the SQL migrations beside this module (``migrations/``);
these classes are the typed view of it and must stay in step (an integration test checks).
"""

from __future__ import annotations

from piccolo.columns import (
    JSONB,
    UUID,
    BigInt,
    BigSerial,
    Boolean,
    ForeignKey,
    Integer,
    OnDelete,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table


class Client(Table, tablename="clients"):
    id = UUID(primary_key=True)
    email = Varchar(length=254, unique=True)
    password_hash = Text()
    created_at = Timestamptz()


class ApiToken(Table, tablename="api_tokens"):
    """A bearer token; only its SHA-256 is stored. ``kind`` is ``session`` (login) or ``api``."""

    id = UUID(primary_key=True)
    client = ForeignKey(Client, on_delete=OnDelete.cascade)
    name = Varchar(length=100)
    kind = Varchar(length=16)
    token_hash = Varchar(length=64, unique=True)
    created_at = Timestamptz()
    expires_at = Timestamptz(null=True, default=None)
    last_used_at = Timestamptz(null=True, default=None)
    revoked_at = Timestamptz(null=True, default=None)


class SshKey(Table, tablename="ssh_keys"):
    id = UUID(primary_key=True)
    client = ForeignKey(Client, on_delete=OnDelete.cascade)
    name = Varchar(length=100)
    public_key = Text()
    key_type = Varchar(length=40)
    fingerprint = Varchar(length=100, unique=True)
    created_at = Timestamptz()


class Project(Table, tablename="projects"):
    id = UUID(primary_key=True)
    client = ForeignKey(Client, on_delete=OnDelete.cascade)
    name = Varchar(length=40, unique=True)
    kind = Varchar(length=16, default="container")
    instances = Integer(default=1)
    cpu = Integer(default=200)
    memory = Integer(default=256)
    idle_timeout = Integer(default=300)
    scale_to_zero = Boolean(default=False)
    asleep = Boolean(default=False)
    """Scaled to zero by the idler: the reconciler applies 0 instances while it is set."""
    invocations = BigInt(default=0)
    last_request_at = Timestamptz(null=True, default=None)
    asleep_since = Timestamptz(null=True, default=None)
    status = Varchar(length=20, default="created")
    current_release = Integer(null=True, default=None)
    created_at = Timestamptz()
    updated_at = Timestamptz()


class EnvVar(Table, tablename="env_vars"):
    """One environment variable; the value is Fernet-encrypted at rest."""

    id = UUID(primary_key=True)
    project = ForeignKey(Project, on_delete=OnDelete.cascade)
    key = Varchar(length=128)
    value_encrypted = Text()
    updated_at = Timestamptz()


class Build(Table, tablename="builds"):
    """One image build of one commit; ``log`` only ever grows (appended in chunks)."""

    id = UUID(primary_key=True)
    project = ForeignKey(Project, on_delete=OnDelete.cascade)
    number = Integer()
    status = Varchar(length=16, default="queued")
    git_ref = Varchar(length=255, default="refs/heads/main")
    commit_sha = Varchar(length=64)
    image = Text(default="")
    digest = Varchar(length=100, default="")
    log = Text(default="")
    error = Text(default="")
    created_at = Timestamptz()
    started_at = Timestamptz(null=True, default=None)
    finished_at = Timestamptz(null=True, default=None)
    plan = JSONB(default={})
    job_id = Varchar(length=100, default="")
    job_running_at = Timestamptz(null=True, default=None)


class Release(Table, tablename="releases"):
    """An immutable (image digest, config snapshot) pair, numbered v1, v2, … per project."""

    id = UUID(primary_key=True)
    project = ForeignKey(Project, on_delete=OnDelete.cascade)
    version = Integer()
    build = ForeignKey(Build, on_delete=OnDelete.set_null, null=True)
    image = Text(default="")
    digest = Varchar(length=100, default="")
    config = JSONB(default={})
    description = Text(default="")
    status = Varchar(length=16, default="pending")
    reason = Text(default="")
    nomad_job_version = Integer(null=True, default=None)
    created_at = Timestamptz()


class Domain(Table, tablename="domains"):
    """A project's claim on a hostname; routed only once ``verified_at`` is set.

    ``challenge`` is the token the owner publishes in ``_paastech-challenge.<hostname>``.
    """

    id = UUID(primary_key=True)
    project = ForeignKey(Project, on_delete=OnDelete.cascade)
    hostname = Varchar(length=253, unique=True)
    challenge = Varchar(length=64, default="")
    verified_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz()


class AuditEvent(Table, tablename="audit_events"):
    id = BigSerial(primary_key=True)
    client = ForeignKey(Client, on_delete=OnDelete.cascade)
    actor = Varchar(length=254)
    action = Varchar(length=64)
    target = Varchar(length=255, default="")
    ip = Varchar(length=64, default="")
    detail = JSONB(default={})
    created_at = Timestamptz()


class ColdStart(Table, tablename="cold_starts"):
    """One wake of a sleeping project, with the time spent in each phase."""

    id = UUID(primary_key=True)
    project = ForeignKey(Project, on_delete=OnDelete.cascade)
    release_version = Integer(null=True, default=None)
    held_ms = Integer(null=True, default=None)
    requests = Integer(default=1)
    placed_ms = Integer(null=True, default=None)
    image_ready_ms = Integer(null=True, default=None)
    started_ms = Integer(null=True, default=None)
    first_answer_ms = Integer(null=True, default=None)
    total_ms = Integer(null=True, default=None)
    created_at = Timestamptz()


class LoginAttempt(Table, tablename="login_attempts"):
    """Throttled attempts (``kind`` login or signup), counted per email and per IP.

    A login attempt is recorded before its password is checked and removed when it
    succeeds, so what remains in the window are the failures (and the attempts in flight).
    """

    id = BigSerial(primary_key=True)
    email = Varchar(length=254)
    ip = Varchar(length=64)
    kind = Varchar(length=16, default="login")
    created_at = Timestamptz()


class ReleaseEvent(Table, tablename="release_events"):
    """One transition of a release (``deploying (1/2 healthy)``, ``live``, ``failed`` …)."""

    id = BigSerial(primary_key=True)
    project = ForeignKey(Project, on_delete=OnDelete.cascade)
    version = Integer()
    status = Varchar(length=16)
    message = Text(default="")
    created_at = Timestamptz()


class Outbox(Table, tablename="outbox"):
    """A side effect to carry out after its commit (no foreign key: it outlives projects)."""

    id = BigSerial(primary_key=True)
    kind = Varchar(length=32)
    project_id = UUID()
    project_name = Varchar(length=40)
    payload = JSONB(default={})
    attempts = Integer(default=0)
    last_error = Text(default="")
    created_at = Timestamptz()
    done_at = Timestamptz(null=True, default=None)


TABLES: tuple[type[Table], ...] = (
    Client,
    ApiToken,
    SshKey,
    Project,
    EnvVar,
    Build,
    Release,
    Domain,
    AuditEvent,
    ColdStart,
    LoginAttempt,
    ReleaseEvent,
    Outbox,
)
