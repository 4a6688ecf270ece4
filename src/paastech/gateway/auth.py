"""Authentication: argon2id passwords and hashed bearer tokens.

A token is 32 random bytes shown to the Client once; the database keeps only its SHA-256,
so a leaked table cannot be replayed. Lookups are cached for a few seconds per process
(:data:`TOKEN_CACHE_SECONDS`) for reads only, and only while this process listens for
revocations (:mod:`paastech.gateway.revocation`): a revoked token is evicted from every
replica's cache by a ``NOTIFY`` sent in the revoking transaction, and every mutating call
(anything but GET/HEAD/OPTIONS) checks the database itself, so a revoked token can change
nothing anywhere from the moment the revocation commits.

Throttling lives in :mod:`paastech.gateway.throttle`, the client address in
:mod:`paastech.gateway.clientip`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from litestar.connection import ASGIConnection

from paastech.db.tables import ApiToken, Client
from paastech.errors import Unauthenticated
from paastech.gateway.clientip import client_ip
from paastech.settings import GatewaySettings

TOKEN_PREFIX = "pt_"  # noqa: S105 - a public marker that makes leaked tokens greppable
TOKEN_CACHE_SECONDS = 5.0
_LAST_USED_RESOLUTION = dt.timedelta(seconds=60)
_CACHE_MAX = 10_000
_READS = frozenset({"GET", "HEAD", "OPTIONS"})

_hasher = PasswordHasher()  # argon2id with the library's (RFC 9106 low-memory) defaults
# Verified against when the email is unknown, so both paths cost one argon2 verification.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


@dataclass(frozen=True)
class Caller:
    """The authenticated Client behind a request."""

    client_id: UUID
    email: str
    token_id: UUID
    ip: str


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def hash_password(password: str) -> str:
    """argon2id hash, computed off the event loop."""
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; ``None`` (unknown email) costs the same and is False."""

    def check() -> bool:
        try:
            return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(check)


def new_token() -> tuple[str, str]:
    """(token shown once, its SHA-256 hex to store)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class _Cached:
    token_id: UUID
    client_id: UUID
    email: str
    expires_at: dt.datetime | None
    fetched: float


class TokenCache:
    """token hash → owner, for a few seconds, while revocations are being listened for.

    ``live`` is set by the revocation listener only while its connection is up: without
    it nobody would evict a token revoked on another replica, so nothing is served from
    the cache then (every request asks the database).
    """

    def __init__(self, ttl: float = TOKEN_CACHE_SECONDS) -> None:
        self.ttl = ttl
        self.live = False
        self._entries: dict[str, _Cached] = {}
        self._loading: dict[str, asyncio.Future[_Cached | None]] = {}

    async def load(
        self, digest: str, lookup: Callable[[str], Awaitable[_Cached | None]]
    ) -> _Cached | None:
        """Look ``digest`` up once however many requests miss it at the same moment.

        Without this, every concurrent request of a busy client misses together when the
        entry expires, and their ``last_used_at`` updates queue on the same row lock.
        """
        pending = self._loading.get(digest)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[_Cached | None] = asyncio.get_running_loop().create_future()
        self._loading[digest] = future
        try:
            entry = await lookup(digest)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it, nobody logs it as lost
            raise
        finally:
            del self._loading[digest]
        future.set_result(entry)
        if entry is not None:
            self.put(digest, entry)
        return entry

    def get(self, digest: str) -> _Cached | None:
        if not self.live:
            return None
        entry = self._entries.get(digest)
        if entry is None or time.monotonic() - entry.fetched > self.ttl:
            return None
        return entry

    def put(self, digest: str, entry: _Cached) -> None:
        if not self.live:
            return
        if len(self._entries) >= _CACHE_MAX:
            self._entries.clear()
        self._entries[digest] = entry

    def evict(self, token_ids: set[UUID]) -> None:
        for digest in [d for d, e in self._entries.items() if e.token_id in token_ids]:
            del self._entries[digest]

    def clear(self) -> None:
        self._entries.clear()


def bearer(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    # Straight from the ASGI scope (servers lowercase header names): building the request's
    # Headers mapping costs more than the rest of an authenticated cache hit.
    raw = next((v for k, v in connection.scope["headers"] if k == b"authorization"), b"")
    header = raw.decode("latin-1")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthenticated("missing bearer token")
    return value.strip()


async def authenticate(
    connection: ASGIConnection[Any, Any, Any, Any], cache: TokenCache, settings: GatewaySettings
) -> Caller:
    """The Caller of a request carrying ``Authorization: Bearer <token>``.

    Raises:
        Unauthenticated: Missing, unknown, revoked or expired token.
    """
    digest = token_hash(bearer(connection))
    # A mutating call always asks the database: revocation must hold at once, everywhere.
    entry = cache.get(digest) if connection.scope.get("method") in _READS else None
    if entry is None:
        entry = await cache.load(digest, _lookup)
        if entry is None:
            raise Unauthenticated("invalid or revoked token")
    if entry.expires_at is not None and entry.expires_at <= utcnow():
        raise Unauthenticated("token expired")
    return Caller(entry.client_id, entry.email, entry.token_id, client_ip(connection, settings))


async def _lookup(digest: str) -> _Cached | None:
    rows = await ApiToken.raw(
        "SELECT t.id, t.client, t.expires_at, t.last_used_at, c.email FROM api_tokens t"
        " JOIN clients c ON c.id = t.client"
        " WHERE t.token_hash = {} AND t.revoked_at IS NULL",
        digest,
    ).run()
    if not rows:
        return None
    row = rows[0]
    now = utcnow()
    last_used: dt.datetime | None = row["last_used_at"]
    if last_used is None or now - last_used > _LAST_USED_RESOLUTION:
        # Coarse on purpose: one write per token per minute at most, not one per request.
        await ApiToken.update({ApiToken.last_used_at: now}).where(ApiToken.id == row["id"]).run()
    return _Cached(row["id"], row["client"], row["email"], row["expires_at"], time.monotonic())


async def issue_token(
    client_id: UUID, name: str, kind: str, expires_at: dt.datetime | None
) -> tuple[UUID, str]:
    """Store a new token (hash only) and return (id, token)."""
    token, digest = new_token()
    row = ApiToken(
        client=client_id,
        name=name,
        kind=kind,
        token_hash=digest,
        created_at=utcnow(),
        expires_at=expires_at,
    )
    await row.save().run()
    return row.id, token


async def find_client(email: str) -> dict[str, Any] | None:
    row: dict[str, Any] | None = (
        await Client.select(Client.id, Client.email, Client.password_hash, Client.created_at)
        .where(Client.email == email)
        .first()
        .run()
    )
    return row
