"""Revocation holds at once on every replica; token lifetime; password change; revoke-all."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable

import httpx
from gateway_harness import PASSWORD, serving, signup_login

from paastech.gateway.app import GatewayCore
from paastech.services import Services
from paastech.settings import Settings

V1 = "/api/v1"


async def _live(core: GatewayCore) -> None:
    """Wait until the replica's revocation listener is up (its cache serves reads then)."""
    for _ in range(200):
        if core.cache.live:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the revocation listener never came up")


async def test_a_token_revoked_on_one_replica_is_refused_on_another(
    settings: Settings, clean_db: object
) -> None:
    """Replica B refuses a token revoked through replica A: writes at once, reads on NOTIFY."""
    services = Services()
    async with serving(settings, services) as (a, _), serving(settings, services) as (b, core_b):
        await _live(core_b)
        core_b.cache.ttl = 3600.0  # without the NOTIFY, B would serve the token for an hour
        who = await signup_login(a, "ada@example.com")
        assert (await b.get(f"{V1}/tokens", headers=who)).status_code == 200  # cached on B
        token_id = (await b.get(f"{V1}/tokens", headers=who)).json()[0]["id"]
        other = await signup_login_again(a, "ada@example.com", PASSWORD)
        assert (await a.delete(f"{V1}/tokens/{token_id}", headers=other)).status_code == 204
        # A mutating call never trusts the cache: refused at once, no minting a new token.
        r = await b.post(f"{V1}/tokens", json={"name": "escape"}, headers=who)
        assert r.status_code == 401
        for _ in range(100):
            if (await b.get(f"{V1}/tokens", headers=who)).status_code == 401:
                break
            await asyncio.sleep(0.05)
        assert (await b.get(f"{V1}/tokens", headers=who)).status_code == 401


async def test_tokens_live_at_most_max_token_days(
    settings: Settings, clean_db: object, tweak: Callable[..., Settings]
) -> None:
    """A longer lifetime than gateway.max_token_days is a 422; none given means the maximum."""
    async with serving(tweak(max_token_days=30), Services()) as (c, _):
        who = await signup_login(c, "ada@example.com")
        r = await c.post(f"{V1}/tokens", json={"name": "ci", "expires_in_days": 3650}, headers=who)
        assert r.status_code == 422
        assert "expires_in_days" in r.json()["errors"]
        r = await c.post(f"{V1}/tokens", json={"name": "ci"}, headers=who)
        assert r.status_code == 201
        expires = dt.datetime.fromisoformat(r.json()["expires_at"])
        left = expires - dt.datetime.now(dt.UTC)
        assert dt.timedelta(days=29) < left <= dt.timedelta(days=30)


async def test_password_change_revokes_the_other_sessions(
    api: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    """New password in, old out; other sessions end, this one and API tokens stay."""
    other = await signup_login_again(api, "alice@example.com", PASSWORD)
    r = await api.post(f"{V1}/tokens", json={"name": "ci"}, headers=alice)
    api_token = {"Authorization": f"Bearer {r.json()['token']}"}
    bad = {"current_password": "wrong one!", "new_password": "a brand new password"}
    r = await api.post(f"{V1}/auth/password", json=bad, headers=alice)
    assert r.status_code == 422
    assert "current_password" in r.json()["errors"]
    good = {"current_password": PASSWORD, "new_password": "a brand new password"}
    r = await api.post(f"{V1}/auth/password", json=good, headers=alice)
    assert r.status_code == 200, r.text
    assert r.json() == {"revoked": 1}
    assert (await api.get(f"{V1}/me", headers=other)).status_code == 401
    assert (await api.get(f"{V1}/me", headers=alice)).status_code == 200
    assert (await api.get(f"{V1}/me", headers=api_token)).status_code == 200
    old = {"email": "alice@example.com", "password": PASSWORD}
    assert (await api.post(f"{V1}/auth/login", json=old)).status_code == 401
    new = {"email": "alice@example.com", "password": "a brand new password"}
    assert (await api.post(f"{V1}/auth/login", json=new)).status_code == 200


async def test_revoke_all_signs_out_everywhere(
    api: httpx.AsyncClient, alice: dict[str, str], bob: dict[str, str]
) -> None:
    """Every token of the caller stops working, the calling one included; others' do not."""
    other = await signup_login_again(api, "alice@example.com", PASSWORD)
    r = await api.post(f"{V1}/tokens", json={"name": "ci"}, headers=alice)
    api_token = {"Authorization": f"Bearer {r.json()['token']}"}
    r = await api.post(f"{V1}/tokens/revoke-all", headers=alice)
    assert r.status_code == 200
    assert r.json() == {"revoked": 3}
    for who in (alice, other, api_token):
        assert (await api.get(f"{V1}/me", headers=who)).status_code == 401
    assert (await api.get(f"{V1}/me", headers=bob)).status_code == 200


async def signup_login_again(api: httpx.AsyncClient, email: str, password: str) -> dict[str, str]:
    r = await api.post(f"{V1}/auth/login", json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}
