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
from paastech.gateway.tx import transaction
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
    version: int | None = None
    async with transaction():
        project = await owned_project(caller, name, lock=True)
        now = utcnow()
        set_keys = sorted(k for k, v in data.items() if v is not None)
        unset_keys = sorted(k for k, v in data.items() if v is None)
        if unset_keys:
            await (
                EnvVar.delete()
                .where((EnvVar.project == project["id"]) & EnvVar.key.is_in(unset_keys))
                .run()
            )
        for key in set_keys:
            value = data[key]
            assert value is not None  # noqa: S101 - set_keys holds only non-null values
            await EnvVar.raw(
                "INSERT INTO env_vars (id, project, key, value_encrypted, updated_at)"
                " VALUES (gen_random_uuid(), {}, {}, {}, {})"
                " ON CONFLICT (project, key) DO UPDATE"
                " SET value_encrypted = EXCLUDED.value_encrypted, updated_at = EXCLUDED.updated_at",
                project["id"],
                key,
                cipher.encrypt(value),
                now,
            ).run()
        count = await EnvVar.count().where(EnvVar.project == project["id"]).run()
        if count > MAX_VARS:
            raise InvalidInput("too many env vars", {"env": f"at most {MAX_VARS}"})
        if data:
            await Project.update({Project.updated_at: now}).where(Project.id == project["id"]).run()
            # Keys only: values are secrets and never reach the audit log.
            await record(caller, "env.update", name, {"set": set_keys, "unset": unset_keys})
            version = await releases.new_release(project, "env change")
    env = await _env(project["id"], cipher, reveal=False)
    return EnvOut(env=env, masked=True, release=version)


router = Router(path="/projects", route_handlers=[get_env, patch_env], tags=["env"])
