"""Environment variables: set/unset many at once, encrypted at rest, masked when read."""

from __future__ import annotations

from litestar import Router, get, patch
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from paastech import releases
from paastech.crypto import EnvCipher
from paastech.db.tables import EnvVar, Project
from paastech.errors import InvalidInput
from paastech.gateway.access import owned_project
from paastech.gateway.audit import record
from paastech.gateway.auth import Caller, utcnow
from paastech.gateway.errors import responses
from paastech.gateway.schemas import EnvOut
from paastech.gateway.tx import fetch, transaction
from paastech.gateway.validation import check_env_key
from paastech.services import Services

MASK = "********"
MAX_VALUE_BYTES = 32 * 1024
MAX_VARS = 500


async def _env(
    project_id: object, cipher: NamedDependency[EnvCipher], reveal: bool
) -> dict[str, str]:
    rows = (
        await EnvVar.select(EnvVar.key, EnvVar.value_encrypted)
        .where(EnvVar.project == project_id)
        .order_by(EnvVar.key)
        .run()
    )
    return {row["key"]: cipher.decrypt(row["value_encrypted"]) if reveal else MASK for row in rows}


@get(
    "/{name:str}/env",
    responses=responses(401, 404, 422),
    summary="Env vars (values masked unless reveal=true)",
)
async def get_env(
    name: FromPath[str],
    caller: NamedDependency[Caller],
    cipher: NamedDependency[EnvCipher],
    reveal: FromQuery[bool] = False,
) -> EnvOut:
    project = await owned_project(caller, name)
    env = await _env(project["id"], cipher, reveal)
    if reveal:
        # Reading secrets is worth a trace even though nothing changes.
        await record(caller, "env.reveal", name)
    return EnvOut(env=env, masked=not reveal)


def _check(data: dict[str, str | None]) -> None:
    """Refuse a change that is invalid or too big by itself, before any database work."""
    set_count = sum(1 for v in data.values() if v is not None)
    if set_count > MAX_VARS or len(data) - set_count > MAX_VARS:
        # A project never holds more than MAX_VARS: neither more sets nor more unsets fit.
        raise InvalidInput("too many env vars", {"env": f"at most {MAX_VARS}"})
    errors: dict[str, str] = {}
    for key, value in data.items():
        try:
            check_env_key(key)
        except InvalidInput as exc:
            errors.update(exc.fields)
        if value is not None and len(value.encode()) > MAX_VALUE_BYTES:
            errors[key] = f"value over {MAX_VALUE_BYTES} bytes"
    if errors:
        raise InvalidInput("invalid env keys or values", errors)


_KEYS = "SELECT key FROM env_vars WHERE project = $1"
_DELETE = "DELETE FROM env_vars WHERE project = $1 AND key = ANY($2::text[])"
_UPSERT = (
    "INSERT INTO env_vars (id, project, key, value_encrypted, updated_at)"
    " SELECT gen_random_uuid(), $1, k, v, $4 FROM unnest($2::text[], $3::text[]) AS t (k, v)"
    " ON CONFLICT (project, key) DO UPDATE"
    " SET value_encrypted = EXCLUDED.value_encrypted, updated_at = EXCLUDED.updated_at"
)


@patch(
    "/{name:str}/env",
    responses=responses(400, 401, 404, 413, 422, 503),
    summary='Set ("KEY": "value") and unset ("KEY": null) many at once; redeploys',
    description=(
        "Keys match `[A-Za-z_][A-Za-z0-9_]*`. The change and, when the project has a build, a "
        "new release are committed together; if the scheduler then cannot be reached the "
        "answer is 503, the change stays saved and the release is marked failed."
    ),
)
async def patch_env(
    name: FromPath[str],
    data: JSONBody[dict[str, str | None]],
    caller: NamedDependency[Caller],
    cipher: NamedDependency[EnvCipher],
    services: NamedDependency[Services],
) -> EnvOut:
    _check(data)
    set_keys = sorted(k for k, v in data.items() if v is not None)
    unset_keys = sorted(k for k, v in data.items() if v is None)
    values = [cipher.encrypt(data[k] or "") for k in set_keys]  # before the row lock
    version: int | None = None
    async with transaction():
        project = await owned_project(caller, name, lock=True)
        now = utcnow()
        existing = {r["key"] for r in await fetch(_KEYS, project["id"])}
        if len((existing | set(set_keys)) - set(unset_keys)) > MAX_VARS:
            # Checked before any write: the row lock is held for one read, not for the work.
            raise InvalidInput("too many env vars", {"env": f"at most {MAX_VARS}"})
        if unset_keys:
            await fetch(_DELETE, project["id"], unset_keys)
        if set_keys:
            await fetch(_UPSERT, project["id"], set_keys, values, now)
        if data:
            await Project.update({Project.updated_at: now}).where(Project.id == project["id"]).run()
            # Keys only: values are secrets and never reach the audit log.
            await record(caller, "env.update", name, {"set": set_keys, "unset": unset_keys})
            version = await releases.new_release(project, "env change")
    env = await _env(project["id"], cipher, reveal=False)
    return EnvOut(env=env, masked=True, release=version)


router = Router(path="/projects", route_handlers=[get_env, patch_env], tags=["env"])
