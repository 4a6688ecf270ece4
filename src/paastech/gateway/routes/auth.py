"""Accounts and sessions: signup and login (throttled), password change, logout, me."""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Request, Router, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from paastech.db.tables import ApiToken, Client
from paastech.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from paastech.gateway import auth, throttle
from paastech.gateway.audit import record, record_for
from paastech.gateway.auth import Caller, TokenCache
from paastech.gateway.clientip import client_ip
from paastech.gateway.errors import responses
from paastech.gateway.schemas import (
    ClientOut,
    Credentials,
    LoginOut,
    MeOut,
    PasswordChange,
    RevokedOut,
    SignupBody,
)
from paastech.gateway.tx import conflict_on_duplicate, fetch, transaction
from paastech.gateway.validation import normalize_email
from paastech.settings import Settings


@post(
    "/auth/signup",
    status_code=HTTP_201_CREATED,
    responses=responses(400, 409, 413, 422, 429),
    security=[{}],  # anonymous: no token needed
    summary="Create an account (rate-limited per client address)",
)
async def signup(
    data: JSONBody[SignupBody], request: Request[Any, Any, Any], settings: NamedDependency[Settings]
) -> ClientOut:
    email = normalize_email(data.email)
    ip = client_ip(request, settings.gateway)
    await throttle.begin_signup(email, ip, settings.gateway)  # before the costly hash
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
    email = normalize_email(data.email)
    ip = client_ip(request, settings.gateway)
    # Recorded before the password is checked: concurrency cannot exceed the limits.
    attempt = await throttle.begin_login(email, ip, settings.gateway)
    client = await auth.find_client(email)
    if not await auth.verify_password(client["password_hash"] if client else None, data.password):
        if client is not None:
            await record_for(
                client["id"], actor=email, ip=ip, action="auth.login_failed", target=email
            )
        raise Unauthenticated("wrong email or password")
    assert client is not None  # noqa: S101 - verify_password is False for an unknown email
    expires_at = auth.utcnow() + dt.timedelta(hours=settings.gateway.session_ttl_hours)
    async with transaction():
        token_id, token = await auth.issue_token(client["id"], "session", "session", expires_at)
        await throttle.login_succeeded(attempt, email, ip)
        await record_for(
            client["id"], actor=email, ip=ip, action="auth.login", target=str(token_id)
        )
    return LoginOut(token=token, expires_at=expires_at)


_REVOKE_OTHER_SESSIONS = (
    "UPDATE api_tokens SET revoked_at = $3 WHERE client = $1 AND id <> $2"
    " AND kind = 'session' AND revoked_at IS NULL RETURNING id"
)


@post(
    "/auth/password",
    status_code=HTTP_200_OK,
    responses=responses(400, 401, 413, 422, 429),
    summary="Change the password; every other session is revoked (422 if the current is wrong)",
    description=(
        "Needs the current password (throttled like a login). API tokens stay valid; revoke "
        "them with `POST /api/v1/tokens/revoke-all` when they may be compromised too."
    ),
)
async def change_password(
    data: JSONBody[PasswordChange],
    request: Request[Any, Any, Any],
    caller: NamedDependency[Caller],
    settings: NamedDependency[Settings],
    cache: NamedDependency[TokenCache],
) -> RevokedOut:
    attempt = await throttle.begin_login(caller.email, caller.ip, settings.gateway)
    client = await auth.find_client(caller.email)
    if client is None or not await auth.verify_password(
        client["password_hash"], data.current_password
    ):
        # 422, not 401: the session is fine, a field is wrong (clients would log out on 401).
        raise InvalidInput("wrong password", {"current_password": "the current password is wrong"})
    new_hash = await auth.hash_password(data.new_password)
    async with transaction():
        await (
            Client.update({Client.password_hash: new_hash})
            .where(Client.id == caller.client_id)
            .run()
        )
        revoked = await fetch(
            _REVOKE_OTHER_SESSIONS, caller.client_id, caller.token_id, auth.utcnow()
        )
        await throttle.login_succeeded(attempt, caller.email, caller.ip)
        await record(caller, "auth.password_change", caller.email, {"revoked": len(revoked)})
    cache.evict({r["id"] for r in revoked})
    return RevokedOut(revoked=len(revoked))


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


router = Router(
    path="/", route_handlers=[signup, login, change_password, logout, me], tags=["auth"]
)
