"""API tokens: named, expiring (at most ``gateway.max_token_days``), shown once, stored as
SHA-256; revoked one by one or all at once."""

from __future__ import annotations

import datetime as dt
from uuid import UUID

from litestar import Router, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from paastech.db.tables import ApiToken
from paastech.errors import InvalidInput, NotFound
from paastech.gateway import auth
from paastech.gateway.audit import record
from paastech.gateway.auth import Caller, TokenCache
from paastech.gateway.errors import responses
from paastech.gateway.schemas import RevokedOut, TokenCreate, TokenCreated, TokenOut
from paastech.gateway.tx import fetch, transaction
from paastech.settings import Settings


@get(responses=responses(401), summary="The caller's live tokens (sessions and API tokens)")
async def list_tokens(caller: NamedDependency[Caller]) -> list[TokenOut]:
    rows = (
        await ApiToken.select(
            ApiToken.id,
            ApiToken.name,
            ApiToken.kind,
            ApiToken.created_at,
            ApiToken.expires_at,
            ApiToken.last_used_at,
        )
        .where((ApiToken.client == caller.client_id) & ApiToken.revoked_at.is_null())
        .order_by(ApiToken.created_at)
        .run()
    )
    return [TokenOut(**row) for row in rows]


@post(
    status_code=HTTP_201_CREATED,
    responses=responses(400, 401, 413, 422),
    summary="Create an API token (the token is in this answer only)",
    description="Without `expires_in_days` the token lives the longest time allowed.",
)
async def create_token(
    data: JSONBody[TokenCreate],
    caller: NamedDependency[Caller],
    settings: NamedDependency[Settings],
) -> TokenCreated:
    longest = settings.gateway.max_token_days
    days = longest if data.expires_in_days is None else data.expires_in_days
    if days > longest:
        raise InvalidInput("token lifetime too long", {"expires_in_days": f"at most {longest}"})
    expires_at = auth.utcnow() + dt.timedelta(days=days)
    async with transaction():
        token_id, token = await auth.issue_token(caller.client_id, data.name, "api", expires_at)
        await record(caller, "token.create", str(token_id), {"name": data.name})
    return TokenCreated(id=token_id, name=data.name, token=token, expires_at=expires_at)


@delete(
    "/{token_id:uuid}",
    status_code=HTTP_204_NO_CONTENT,
    responses=responses(401, 404),
    summary="Revoke a token",
)
async def revoke_token(
    token_id: FromPath[UUID], caller: NamedDependency[Caller], cache: NamedDependency[TokenCache]
) -> None:
    async with transaction():
        revoked = (
            await ApiToken.update({ApiToken.revoked_at: auth.utcnow()})
            .where(
                (ApiToken.id == token_id)
                & (ApiToken.client == caller.client_id)
                & ApiToken.revoked_at.is_null()
            )
            .returning(ApiToken.id)
            .run()
        )
        if not revoked:
            raise NotFound("no such token")
        await record(caller, "token.revoke", str(token_id))
    cache.evict({token_id})


_REVOKE_ALL = (
    "UPDATE api_tokens SET revoked_at = $2 WHERE client = $1 AND revoked_at IS NULL RETURNING id"
)


@post(
    "/revoke-all",
    status_code=HTTP_200_OK,
    responses=responses(401),
    summary="Revoke every token of the caller, this one included (sign out everywhere)",
)
async def revoke_all(
    caller: NamedDependency[Caller], cache: NamedDependency[TokenCache]
) -> RevokedOut:
    async with transaction():
        revoked = await fetch(_REVOKE_ALL, caller.client_id, auth.utcnow())
        await record(caller, "token.revoke_all", caller.email, {"revoked": len(revoked)})
    cache.evict({r["id"] for r in revoked})
    return RevokedOut(revoked=len(revoked))


router = Router(
    path="/tokens",
    route_handlers=[list_tokens, create_token, revoke_token, revoke_all],
    tags=["tokens"],
)
