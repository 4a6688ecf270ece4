"""SSH public keys: the forge authenticates pushes by their fingerprint."""

from __future__ import annotations

from uuid import UUID

from litestar import Router, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from paastech.db.tables import SshKey
from paastech.errors import Conflict, NotFound
from paastech.gateway import auth
from paastech.gateway.audit import record
from paastech.gateway.auth import Caller
from paastech.gateway.errors import responses
from paastech.gateway.schemas import KeyCreate, KeyOut
from paastech.gateway.sshkeys import parse_public_key
from paastech.gateway.tx import conflict_on_duplicate, transaction

_DUPLICATE = "this key is already registered"
_COLUMNS = (SshKey.id, SshKey.name, SshKey.fingerprint, SshKey.key_type, SshKey.created_at)


@get(responses=responses(401), summary="The caller's SSH keys")
async def list_keys(caller: NamedDependency[Caller]) -> list[KeyOut]:
    rows = (
        await SshKey.select(*_COLUMNS)
        .where(SshKey.client == caller.client_id)
        .order_by(SshKey.created_at)
        .run()
    )
    return [KeyOut(**row) for row in rows]


@post(
    status_code=HTTP_201_CREATED,
    responses=responses(400, 401, 409, 413, 422),
    summary="Add an SSH public key (ed25519, ecdsa, rsa >= 2048)",
)
async def add_key(data: JSONBody[KeyCreate], caller: NamedDependency[Caller]) -> KeyOut:
    parsed = parse_public_key(data.public_key)
    if await SshKey.exists().where(SshKey.fingerprint == parsed.fingerprint).run():
        raise Conflict(_DUPLICATE)
    key = SshKey(
        client=caller.client_id,
        name=data.name,
        public_key=parsed.normalized,
        key_type=parsed.key_type,
        fingerprint=parsed.fingerprint,
        created_at=auth.utcnow(),
    )
    async with transaction():
        with conflict_on_duplicate(_DUPLICATE):
            await key.save().run()
        await record(caller, "key.add", str(key.id), {"fingerprint": parsed.fingerprint})
    return KeyOut(
        id=key.id,
        name=key.name,
        fingerprint=key.fingerprint,
        key_type=key.key_type,
        created_at=key.created_at,
    )


@delete(
    "/{key_id:uuid}",
    status_code=HTTP_204_NO_CONTENT,
    responses=responses(401, 404),
    summary="Remove an SSH key",
)
async def remove_key(key_id: FromPath[UUID], caller: NamedDependency[Caller]) -> None:
    async with transaction():
        gone = (
            await SshKey.delete()
            .where((SshKey.id == key_id) & (SshKey.client == caller.client_id))
            .returning(SshKey.fingerprint)
            .run()
        )
        if not gone:
            raise NotFound("no such key")
        await record(caller, "key.remove", str(key_id), {"fingerprint": gone[0]["fingerprint"]})


router = Router(path="/keys", route_handlers=[list_keys, add_key, remove_key], tags=["keys"])
