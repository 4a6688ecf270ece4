"""Login and signup throttling that holds under concurrency, across workers and replicas.

Each attempt is *recorded before* its password is checked, in a short transaction that
first takes PostgreSQL advisory locks on the email and on the client address: concurrent
attempts for one email or from one address queue on those locks, each sees every attempt
before it, so 40 simultaneous wrong passwords with a limit of 3 give three 401s and 429s
after them. A successful login removes its own row and this address's earlier failures on
the account; what stays in the window are failures (and attempts still being checked).

Limits, per ``gateway.login_window_seconds``:
- per client address: ``login_max_failures`` attempts, whatever the emails;
- per email: once ``login_max_failures`` failures sit on it, only addresses that have not
  failed on it may still try, so a stranger cannot lock its owner out. A distributed
  guesser gets at most ``EMAIL_HARD_FACTOR`` x the limit tries per window on one account;
  past that the account is locked for everyone until the window moves on.

Signups cost an argon2 hash each and are counted per address (``signup_max_per_ip`` in
``signup_window_seconds``), successful or not.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math

from paastech.errors import RateLimited
from paastech.gateway.auth import utcnow
from paastech.gateway.tx import fetch, transaction
from paastech.settings import GatewaySettings

EMAIL_HARD_FACTOR = 10

_LOCK = "SELECT pg_advisory_xact_lock(k) FROM (SELECT unnest($1::bigint[]) AS k ORDER BY k) AS s"
_LOGIN_COUNTS = (
    "SELECT count(*) FILTER (WHERE ip = $2) AS by_ip,"
    " count(*) FILTER (WHERE email = $1) AS by_email,"
    " count(*) FILTER (WHERE email = $1 AND ip = $2) AS by_pair"
    " FROM login_attempts"
    " WHERE kind = 'login' AND created_at > $3 AND (email = $1 OR ip = $2)"
)
# The n-th newest attempt matching a column: when it leaves the window, the count is under n.
_NTH_NEWEST = (
    "SELECT created_at FROM login_attempts WHERE kind = $1 AND {column} = $2"
    " AND created_at > $3 ORDER BY created_at DESC OFFSET $4 LIMIT 1"
)
_INSERT = (
    "INSERT INTO login_attempts (email, ip, kind, created_at) VALUES ($1, $2, $3, $4) RETURNING id"
)
_SIGNUP_COUNT = (
    "SELECT count(*) AS n FROM login_attempts WHERE kind = 'signup' AND ip = $1 AND created_at > $2"
)
_SUCCEEDED = (
    "DELETE FROM login_attempts WHERE kind = 'login' AND (id = $1 OR (email = $2 AND ip = $3))"
)


def _lock_key(kind: str, value: str) -> int:
    digest = hashlib.blake2b(f"{kind}\0{value}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


async def _retry_after(kind: str, column: str, value: str, *, n: int, window: dt.timedelta) -> int:
    """Seconds until fewer than ``n`` attempts match (``column = value``) in the window."""
    since = utcnow() - window
    rows = await fetch(_NTH_NEWEST.format(column=column), kind, value, since, n - 1)
    if not rows:
        return 1
    expires: dt.datetime = rows[0]["created_at"] + window
    return max(1, math.ceil((expires - utcnow()).total_seconds()))


async def begin_login(email: str, ip: str, settings: GatewaySettings) -> int:
    """Record a login attempt, or refuse it when a limit is reached.

    Returns:
        The attempt's id, for :func:`login_succeeded`.

    Raises:
        RateLimited: With the seconds until the limit that refused it lets attempts in.
    """
    limit = settings.login_max_failures
    window = dt.timedelta(seconds=settings.login_window_seconds)
    now = utcnow()
    since = now - window
    async with transaction():
        await fetch(_LOCK, [_lock_key("login-email", email), _lock_key("login-ip", ip)])
        counts = (await fetch(_LOGIN_COUNTS, email, ip, since))[0]
        if counts["by_ip"] >= limit:
            retry = await _retry_after("login", "ip", ip, n=limit, window=window)
            raise RateLimited("too many failed logins; try again later", retry_after=retry)
        hard = limit * EMAIL_HARD_FACTOR
        if counts["by_email"] >= hard or (counts["by_email"] >= limit and counts["by_pair"]):
            n = hard if counts["by_email"] >= hard else limit
            retry = await _retry_after("login", "email", email, n=n, window=window)
            raise RateLimited("too many failed logins; try again later", retry_after=retry)
        rows = await fetch(_INSERT, email, ip, "login", now)
    attempt: int = rows[0]["id"]
    return attempt


async def login_succeeded(attempt: int, email: str, ip: str) -> None:
    """The password was right: forget this attempt and this address's failures on the email."""
    await fetch(_SUCCEEDED, attempt, email, ip)


async def begin_signup(email: str, ip: str, settings: GatewaySettings) -> None:
    """Count a signup from ``ip``, or refuse it over ``signup_max_per_ip``.

    Raises:
        RateLimited: Too many signups from this address in the window.
    """
    limit = settings.signup_max_per_ip
    window = dt.timedelta(seconds=settings.signup_window_seconds)
    now = utcnow()
    since = now - window
    async with transaction():
        await fetch(_LOCK, [_lock_key("signup-ip", ip)])
        if (await fetch(_SIGNUP_COUNT, ip, since))[0]["n"] >= limit:
            retry = await _retry_after("signup", "ip", ip, n=limit, window=window)
            raise RateLimited("too many signups from this address; try again later", retry)
        await fetch(_INSERT, email, ip, "signup", now)
