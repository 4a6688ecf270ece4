"""The schema on the real private PostgreSQL: migrations, Piccolo round trips, constraints."""

from __future__ import annotations

import uuid
from pathlib import Path

import asyncpg
import msgspec
import pytest

from paastech import db
from paastech.db.tables import (
    TABLES,
    ApiToken,
    AuditEvent,
    Build,
    Client,
    ColdStart,
    Domain,
    EnvVar,
    LoginAttempt,
    Project,
    Release,
    SshKey,
)
from paastech.infra.postgres import APP_ROLE, app_password_file
from paastech.settings import DbSettings

pytestmark = pytest.mark.integration


async def test_migrations_apply_twice_cleanly(pg_server: DbSettings) -> None:
    """`paastech-server migrate` on an up-to-date database changes nothing and does not fail."""
    name = f"paastech_mig_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(pg_server.dsn("postgres"))
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        settings = msgspec.structs.replace(pg_server, database=name)
        first = await db.migrate(settings)
        second = await db.migrate(settings)
        assert first == [n for n, _ in db.migration_files()]
        assert second == []
        conn = await asyncpg.connect(settings.dsn())
        try:
            tables = {
                r["tablename"]
                for r in await conn.fetch(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                )
            }
        finally:
            await conn.close()
        assert {t._meta.tablename for t in TABLES} <= tables
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


async def test_every_table_round_trips_through_piccolo(clean_db: DbSettings) -> None:
    """Each Piccolo table class matches the migrated schema: insert, read back, cascade."""
    async with db.connected(clean_db):
        client = Client(email="ada@example.org", password_hash="argon2-hash")
        await client.save()
        token = ApiToken(client=client.id, name="ci", kind="api", token_hash="h" * 64)
        key = SshKey(
            client=client.id,
            name="laptop",
            public_key="ssh-ed25519 AAAA",
            key_type="ssh-ed25519",
            fingerprint="SHA256:abc",
        )
        project = Project(client=client.id, name="hello", kind="function", scale_to_zero=True)
        for row in (token, key, project):
            await row.save()
        build = Build(project=project.id, number=1, commit_sha="a" * 40)
        await build.save()
        rows = [
            EnvVar(project=project.id, key="GREETING", value_encrypted="gAAAA"),
            Release(project=project.id, version=1, build=build.id, config={"env": {"A": "1"}}),
            Domain(project=project.id, hostname="hello.example.org"),
            AuditEvent(
                client=client.id,
                actor=client.email,
                action="project.create",
                target="hello",
                ip="127.0.0.1",
            ),
            ColdStart(project=project.id, placed_ms=10, total_ms=250),
            LoginAttempt(email="ada@example.org", ip="127.0.0.1"),
        ]
        for row in rows:
            await row.save()

        fetched = await Project.objects().where(Project.name == "hello").first()
        assert fetched is not None
        assert fetched.kind == "function"
        assert fetched.scale_to_zero is True
        release = await Release.select(Release.config, Release.build.number).first()
        assert release is not None
        assert release["config"] in ({"env": {"A": "1"}}, '{"env": {"A": "1"}}')
        assert release["build.number"] == 1
        owner = await Domain.select(Domain.project.client.email).first()
        assert owner == {"project.client.email": "ada@example.org"}

        await Client.delete().where(Client.id == client.id)
        for table in (
            ApiToken,
            SshKey,
            Project,
            EnvVar,
            Build,
            Release,
            Domain,
            AuditEvent,
            ColdStart,
        ):
            assert await table.count() == 0, table


async def test_uniqueness_is_enforced_by_the_database(clean_db: DbSettings) -> None:
    """Two Clients cannot hold the same project name, key fingerprint or domain."""
    async with db.connected(clean_db):
        a = Client(email="a@example.org", password_hash="x")
        b = Client(email="b@example.org", password_hash="x")
        await a.save()
        await b.save()
        await Project(client=a.id, name="taken").save()
        with pytest.raises(asyncpg.exceptions.UniqueViolationError):
            await Project(client=b.id, name="taken").save()
        await Release(project=(await Project.objects().first()).id, version=1).save()  # type: ignore[union-attr]
        with pytest.raises(asyncpg.exceptions.UniqueViolationError):
            await Release(project=(await Project.objects().first()).id, version=1).save()  # type: ignore[union-attr]


@pytest.fixture
async def runtime_db(test_db: DbSettings, state_dir: Path) -> DbSettings:
    """The platform's run-time settings: the least-privilege role, migrated by the owner."""
    runtime = msgspec.structs.replace(
        test_db,
        user=APP_ROLE,
        password=app_password_file(state_dir).read_text().strip(),
        migrate_user=test_db.user,
        migrate_password=test_db.password,
    )
    await db.migrate(runtime)
    return runtime


async def test_runtime_role_reads_and_writes_rows_but_nothing_more(runtime_db: DbSettings) -> None:
    """The role the platform runs as works with rows and LISTEN/NOTIFY, and is refused
    superuser powers, DDL, role creation and the password catalogue."""
    conn = await asyncpg.connect(runtime_db.dsn())
    try:
        assert (
            await conn.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            is False
        )
        email = f"least-{uuid.uuid4().hex[:8]}@example.com"
        await conn.execute(
            "INSERT INTO clients (id, email, password_hash, created_at)"
            " VALUES ($1, $2, 'x', now())",
            uuid.uuid4(),
            email,
        )
        assert await conn.fetchval("SELECT count(*) FROM clients WHERE email = $1", email) == 1
        await conn.execute("DELETE FROM clients WHERE email = $1", email)
        await conn.execute("LISTEN paastech_test; NOTIFY paastech_test")
        refused = (
            "CREATE TABLE intruder (id int)",
            "DROP TABLE clients",
            "ALTER TABLE clients ADD COLUMN x int",
            "CREATE ROLE intruder LOGIN SUPERUSER",
            "SELECT rolpassword FROM pg_authid",
            "DELETE FROM schema_migrations",
            "COPY clients TO PROGRAM 'true'",
        )
        for statement in refused:
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(statement)
    finally:
        await conn.close()


async def test_runtime_role_needs_its_password(runtime_db: DbSettings) -> None:
    """Over TCP the role is refused without its password (scram-sha-256), as anyone is."""
    anonymous = msgspec.structs.replace(runtime_db, password="")
    with pytest.raises((asyncpg.InvalidPasswordError, asyncpg.ClientCannotConnectError)):
        await asyncpg.connect(anonymous.dsn())
