"""Accounts and sessions: signup, login (throttled), logout, me."""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Request, Router, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from paastech.db.tables import ApiToken, Client
from paastech.errors import Conflict, NotFound, Unauthenticated
from paastech.gateway import auth
from paastech.gateway.audit import record, record_for
from paastech.gateway.auth import Caller, TokenCache
from paastech.gateway.errors import responses
from paastech.gateway.schemas import ClientOut, Credentials, LoginOut, MeOut, SignupBody
from paastech.gateway.tx import conflict_on_duplicate, transaction
from paastech.settings import Settings


@post(
    "/auth/signup",
    status_code=HTTP_201_CREATED,
    responses=responses(400, 409, 413, 422),
    security=[{}],  # anonymous: no token needed
    summary="Create an account",
)
async def signup(
    data: JSONBody[SignupBody], request: Request[Any, Any, Any], settings: NamedDependency[Settings]
) -> ClientOut:
    email = data.email.strip().lower()
    ip = auth.client_ip(request, settings.gateway)
    password_hash = await auth.hash_password(data.password)
    if await Client.exists().where(Client.email == email).run():
        raise Conflict("an account with this email exists")
    async with transaction():
        client = Client(email=email, password_hash=password_hash, created_at=auth.utcnow())
        with conflict_on_duplicate("an account with this email exists"):
            await client.save().run()
        await record_for(client.id, actor=email, ip=ip, action="client.signup", target=email)
    return ClientOut(id=client.id, email=email)


@post(
    "/auth/login",
    status_code=HTTP_200_OK,
    responses=responses(400, 401, 413, 422, 429),
    security=[{}],  # anonymous: no token needed
    summary="Exchange email and password for a session token",
)
async def login(
    data: JSONBody[Credentials],
    request: Request[Any, Any, Any],
    settings: NamedDependency[Settings],
) -> LoginOut:
    email = data.email.strip().lower()
    ip = auth.client_ip(request, settings.gateway)
    await auth.check_throttle(email, ip, settings.gateway)
    client = await auth.find_client(email)
    if not await auth.verify_password(client["password_hash"] if client else None, data.password):
        async with transaction():
            await auth.record_failure(email, ip)
            if client is not None:
                await record_for(
                    client["id"], actor=email, ip=ip, action="auth.login_failed", target=email
                )
        raise Unauthenticated("wrong email or password")
    assert client is not None  # noqa: S101 - verify_password is False for an unknown email
    expires_at = auth.utcnow() + dt.timedelta(hours=settings.gateway.session_ttl_hours)
    async with transaction():
        token_id, token = await auth.issue_token(client["id"], "session", "session", expires_at)
        await auth.clear_failures(email)
        await record_for(
            client["id"], actor=email, ip=ip, action="auth.login", target=str(token_id)
        )
    return LoginOut(token=token, expires_at=expires_at)


@post(
    "/auth/logout",
    status_code=HTTP_204_NO_CONTENT,
    responses=responses(401),
    summary="Revoke the token used for this request",
)
async def logout(caller: NamedDependency[Caller], cache: NamedDependency[TokenCache]) -> None:
    async with transaction():
        await (
            ApiToken.update({ApiToken.revoked_at: auth.utcnow()})
            .where(ApiToken.id == caller.token_id)
            .run()
        )
        await record(caller, "auth.logout", str(caller.token_id))
    cache.evict({caller.token_id})


@get("/me", responses=responses(401), summary="The authenticated Client")
async def me(caller: NamedDependency[Caller]) -> MeOut:
    row = (
        await Client.select(Client.id, Client.email, Client.created_at)
        .where(Client.id == caller.client_id)
        .first()
        .run()
    )
    if row is None:
        raise NotFound("no such client")
    return MeOut(id=row["id"], email=row["email"], created_at=row["created_at"])


router = Router(path="/", route_handlers=[signup, login, logout, me], tags=["auth"])
