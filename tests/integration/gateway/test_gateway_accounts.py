"""Accounts, sessions, API tokens and SSH keys against the real database."""

from __future__ import annotations

import base64
import hashlib

import asyncpg
import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from gateway_harness import PASSWORD, PROBLEM

from paastech.settings import Settings


def ssh_key(kind: str = "ed25519", bits: int = 2048) -> str:
    key = (
        ed25519.Ed25519PrivateKey.generate()
        if kind == "ed25519"
        else rsa.generate_private_key(65537, bits)
    )
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
        + " me@laptop"
    )


async def test_signup_login_me_logout(api: httpx.AsyncClient, settings: Settings) -> None:
    """A new account can log in, see itself, and its session stops working after logout."""
    r = await api.post(
        "/api/v1/auth/signup", json={"email": "Carol@Example.com", "password": PASSWORD}
    )
    assert r.status_code == 201
    assert r.json()["email"] == "carol@example.com"
    r = await api.post(
        "/api/v1/auth/login", json={"email": "carol@example.com", "password": PASSWORD}
    )
    assert r.status_code == 200
    token = r.json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    me = await api.get("/api/v1/me", headers=headers)
    assert me.status_code == 200
    assert me.json()["email"] == "carol@example.com"
    conn = await asyncpg.connect(settings.db.dsn())
    try:
        stored = await conn.fetchval("SELECT password_hash FROM clients")
        hashes = await conn.fetch("SELECT token_hash FROM api_tokens")
    finally:
        await conn.close()
    assert stored.startswith("$argon2id$")
    assert token not in {h["token_hash"] for h in hashes}  # only the hash is stored
    assert (await api.post("/api/v1/auth/logout", headers=headers)).status_code == 204
    r = await api.get("/api/v1/me", headers=headers)
    assert r.status_code == 401
    assert r.headers["content-type"].startswith(PROBLEM)


async def test_signup_refuses_short_password_and_duplicate(api: httpx.AsyncClient) -> None:
    """Passwords under 10 chars are a 422 naming `password`; a second signup is a 409."""
    r = await api.post("/api/v1/auth/signup", json={"email": "d@example.com", "password": "short"})
    assert r.status_code == 422
    assert "password" in r.json()["errors"]
    assert "short" not in r.text  # the value is never echoed
    ok = {"email": "d@example.com", "password": PASSWORD}
    assert (await api.post("/api/v1/auth/signup", json=ok)).status_code == 201
    r = await api.post("/api/v1/auth/signup", json=ok)
    assert r.status_code == 409
    assert PASSWORD not in r.text


async def test_wrong_password_is_401_without_secrets(
    api: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    """A wrong password answers 401 and the body does not echo it."""
    r = await api.post(
        "/api/v1/auth/login", json={"email": "alice@example.com", "password": "hunter2-wrong"}
    )
    assert r.status_code == 401
    assert "hunter2" not in r.text


async def test_missing_and_bad_tokens_are_401(api: httpx.AsyncClient) -> None:
    """No token, a garbage token, or another scheme all give 401 problem+json."""
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic eDp5"}):
        r = await api.get("/api/v1/projects", headers=headers)
        assert r.status_code == 401
        assert r.json()["status"] == 401


async def test_bearer_scheme_and_header_name_are_case_insensitive(
    api: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    """HTTP header names and the auth scheme are case-insensitive: any spelling works."""
    token = alice["Authorization"].split(" ", 1)[1]
    for headers in (
        {"authorization": f"bearer {token}"},
        {"AUTHORIZATION": f"BEARER {token}"},
        {"Authorization": f"Bearer   {token}  "},
    ):
        assert (await api.get("/api/v1/projects", headers=headers)).status_code == 200
        assert (await api.get("/api/v1/me", headers=headers)).status_code == 200


async def test_api_tokens_create_list_revoke(api: httpx.AsyncClient, alice: dict[str, str]) -> None:
    """An API token is shown once, works, is listed without its secret, and dies on revoke."""
    r = await api.post("/api/v1/tokens", json={"name": "ci", "expires_in_days": 30}, headers=alice)
    assert r.status_code == 201
    created = r.json()
    assert created["token"].startswith("pt_")
    ci = {"Authorization": f"Bearer {created['token']}"}
    assert (await api.get("/api/v1/me", headers=ci)).status_code == 200
    listed = (await api.get("/api/v1/tokens", headers=alice)).json()
    assert {t["name"] for t in listed} == {"session", "ci"}
    assert all("token" not in t for t in listed)
    r = await api.delete(f"/api/v1/tokens/{created['id']}", headers=alice)
    assert r.status_code == 204
    assert (await api.get("/api/v1/me", headers=ci)).status_code == 401
    r = await api.delete(f"/api/v1/tokens/{created['id']}", headers=alice)
    assert r.status_code == 404


async def test_expired_token_is_401(
    api: httpx.AsyncClient, alice: dict[str, str], settings: Settings
) -> None:
    """A token past its expiry stops working."""
    r = await api.post("/api/v1/tokens", json={"name": "short"}, headers=alice)
    token = r.json()["token"]
    conn = await asyncpg.connect(settings.db.dsn())
    try:
        await conn.execute(
            "UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE name = 'short'"
        )
    finally:
        await conn.close()
    r = await api.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401


async def test_ssh_keys(api: httpx.AsyncClient, alice: dict[str, str], bob: dict[str, str]) -> None:
    """Keys get the ssh-keygen fingerprint; weak/unknown keys are 422; a key has one owner."""
    public = ssh_key()
    r = await api.post("/api/v1/keys", json={"name": "laptop", "public_key": public}, headers=alice)
    assert r.status_code == 201, r.text
    body = r.json()
    blob = base64.b64decode(public.split()[1])
    expected = "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    assert body["fingerprint"] == expected
    assert body["key_type"] == "ssh-ed25519"
    r = await api.post("/api/v1/keys", json={"name": "again", "public_key": public}, headers=bob)
    assert r.status_code == 409
    r = await api.post(
        "/api/v1/keys", json={"name": "weak", "public_key": ssh_key("rsa", 1024)}, headers=alice
    )
    assert r.status_code == 422
    assert "public_key" in r.json()["errors"]
    r = await api.post(
        "/api/v1/keys", json={"name": "junk", "public_key": "ssh-ed25519 AAAA"}, headers=alice
    )
    assert r.status_code == 422
    rsa_ok = await api.post(
        "/api/v1/keys", json={"name": "rsa", "public_key": ssh_key("rsa", 2048)}, headers=alice
    )
    assert rsa_ok.status_code == 201
    listed = (await api.get("/api/v1/keys", headers=alice)).json()
    assert {k["name"] for k in listed} == {"laptop", "rsa"}
    assert (await api.delete(f"/api/v1/keys/{body['id']}", headers=alice)).status_code == 204
    assert (await api.delete(f"/api/v1/keys/{body['id']}", headers=alice)).status_code == 404
