"""Throttling on the real database under concurrency, and whom X-Forwarded-For names (#15)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable

from dbrows import sql
from gateway_harness import PASSWORD, gateway, signup_login

from paastech.services import Services
from paastech.settings import Settings

V1 = "/api/v1"
WRONG = "not the password"


def via(ip: str) -> dict[str, str]:
    """Headers of a request relayed by the trusted proxy at 127.0.0.1 for ``ip``."""
    return {"X-Forwarded-For": ip}


async def test_concurrent_wrong_passwords_cannot_exceed_the_limit(
    settings: Settings, clean_db: object, tweak: Callable[..., Settings]
) -> None:
    """40 simultaneous wrong passwords for one email with a limit of 3: three 401s, 37 429s."""
    async with gateway(tweak(login_max_failures=3, login_window_seconds=600), Services()) as client:
        await signup_login(client, "eve@example.com")
        body = {"email": "eve@example.com", "password": WRONG}
        answers = await asyncio.gather(
            *(client.post(f"{V1}/auth/login", json=body) for _ in range(40))
        )
    statuses = Counter(r.status_code for r in answers)
    assert statuses == {401: 3, 429: 37}
    assert all(int(r.headers["retry-after"]) >= 1 for r in answers if r.status_code == 429)


async def test_a_stranger_cannot_lock_the_owner_out(
    settings: Settings, clean_db: object, tweak: Callable[..., Settings]
) -> None:
    """Failures from one address lock that address out; the owner elsewhere still logs in."""
    throttled = tweak(login_max_failures=3, login_window_seconds=600, trusted_proxies=["127.0.0.1"])
    async with gateway(throttled, Services()) as client:
        await signup_login(client, "vic@example.com")
        wrong = {"email": "vic@example.com", "password": WRONG}
        right = {"email": "vic@example.com", "password": PASSWORD}
        for _ in range(3):
            r = await client.post(f"{V1}/auth/login", json=wrong, headers=via("203.0.113.66"))
            assert r.status_code == 401
        r = await client.post(f"{V1}/auth/login", json=wrong, headers=via("203.0.113.66"))
        assert r.status_code == 429
        r = await client.post(f"{V1}/auth/login", json=right, headers=via("203.0.113.66"))
        assert r.status_code == 429  # the stranger's address stays locked, right password or not
        r = await client.post(f"{V1}/auth/login", json=right, headers=via("198.51.100.7"))
        assert r.status_code == 200, r.text
        # The locked email lets a clean address try once; a failure there locks it too.
        r = await client.post(f"{V1}/auth/login", json=wrong, headers=via("198.51.100.8"))
        assert r.status_code == 401
        r = await client.post(f"{V1}/auth/login", json=right, headers=via("198.51.100.8"))
        assert r.status_code == 429


async def test_rotating_the_left_most_forwarded_hop_does_not_escape_the_ip_limit(
    settings: Settings, clean_db: object, tweak: Callable[..., Settings]
) -> None:
    """Only hops added by trusted proxies count: a forged left-most hop changes nothing."""
    throttled = tweak(login_max_failures=3, login_window_seconds=600, trusted_proxies=["127.0.0.1"])
    async with gateway(throttled, Services()) as client:
        for i in range(3):
            body = {"email": f"u{i}@example.com", "password": WRONG}
            xff = via(f"10.0.0.{i}, 192.0.2.9")
            assert (
                await client.post(f"{V1}/auth/login", json=body, headers=xff)
            ).status_code == 401
        body = {"email": "fresh@example.com", "password": WRONG}
        r = await client.post(f"{V1}/auth/login", json=body, headers=via("10.0.0.99, 192.0.2.9"))
        assert r.status_code == 429
        r = await client.post(f"{V1}/auth/login", json=body, headers=via("192.0.2.10"))
        assert r.status_code == 401


async def test_the_audit_trail_records_the_address_the_trusted_proxy_saw(
    settings: Settings, clean_db: object, tweak: Callable[..., Settings]
) -> None:
    """The audit IP is the right-most untrusted hop, never what the caller wrote before it."""
    proxied = tweak(trusted_proxies=["127.0.0.1", "10.1.0.0/16"])
    async with gateway(proxied, Services()) as client:
        body = {"email": "ada@example.com", "password": PASSWORD}
        headers = via("6.6.6.6, 192.0.2.44, 10.1.2.3")  # forged, client, inner proxy
        assert (
            await client.post(f"{V1}/auth/signup", json=body, headers=headers)
        ).status_code == 201
    rows = await sql(settings, "SELECT ip FROM audit_events WHERE action = 'client.signup'")
    assert [r["ip"] for r in rows] == ["192.0.2.44"]


async def test_forwarded_for_from_an_untrusted_peer_is_ignored(
    settings: Settings, clean_db: object
) -> None:
    """Without trusted_proxies the peer address is the client, whatever the header says."""
    async with gateway(settings, Services()) as client:
        body = {"email": "bo@example.com", "password": PASSWORD}
        r = await client.post(f"{V1}/auth/signup", json=body, headers=via("192.0.2.1"))
        assert r.status_code == 201
    rows = await sql(settings, "SELECT ip FROM audit_events WHERE action = 'client.signup'")
    assert [r["ip"] for r in rows] == ["127.0.0.1"]


async def test_signup_is_rate_limited_per_address(
    settings: Settings, clean_db: object, tweak: Callable[..., Settings]
) -> None:
    """The third signup from one address in the window is a 429; another address may sign up."""
    limited = tweak(signup_max_per_ip=2, signup_window_seconds=600, trusted_proxies=["127.0.0.1"])
    async with gateway(limited, Services()) as client:
        for i in range(2):
            body = {"email": f"s{i}@example.com", "password": PASSWORD}
            r = await client.post(f"{V1}/auth/signup", json=body, headers=via("192.0.2.5"))
            assert r.status_code == 201
        body = {"email": "s9@example.com", "password": PASSWORD}
        r = await client.post(f"{V1}/auth/signup", json=body, headers=via("192.0.2.5"))
        assert r.status_code == 429
        assert int(r.headers["retry-after"]) >= 1
        r = await client.post(f"{V1}/auth/signup", json=body, headers=via("192.0.2.6"))
        assert r.status_code == 201
