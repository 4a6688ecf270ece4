"""Pure checks: project names, hostnames, env keys, SSH keys, env encryption, error fields."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa

from paastech.crypto import DecryptionFailed, EnvCipher, generate_key
from paastech.errors import InvalidInput, InvalidSettings
from paastech.gateway.errors import _validation_fields
from paastech.gateway.sshkeys import parse_public_key
from paastech.gateway.validation import check_env_key, check_hostname, check_project_name


@pytest.mark.parametrize("name", ["web", "my-app", "a12", "x" * 40, "abc-1"])
def test_good_project_names(name: str) -> None:
    """DNS labels of 3-40 chars starting with a letter are accepted."""
    assert check_project_name(name) == name


@pytest.mark.parametrize(
    "name",
    ["ab", "x" * 41, "1ab", "-ab", "ab-", "a_b", "Abc", "a.b", "api", "www", "admin", "paastech"],
)
def test_bad_project_names(name: str) -> None:
    """Everything else, and reserved names, is refused naming the field."""
    with pytest.raises(InvalidInput) as info:
        check_project_name(name)
    assert "name" in info.value.fields


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("WWW.Example.COM", "www.example.com"),
        ("a.b.co.", "a.b.co"),
        ("x-1.example.org", "x-1.example.org"),
    ],
)
def test_good_hostnames(raw: str, expected: str) -> None:
    """Hostnames are normalised to lowercase without the trailing dot."""
    assert check_hostname(raw, "apps.localhost") == expected


@pytest.mark.parametrize(
    "raw",
    [
        "localhost",
        "a..b.com",
        "-a.com",
        "a-.com",
        "a.b.123",
        "x" * 64 + ".com",
        "web.apps.localhost",
        "apps.localhost",
        "a b.com",
        "a_b.com",
    ],
)
def test_bad_hostnames(raw: str) -> None:
    """Non-FQDNs and names inside the platform's apps domain are refused."""
    with pytest.raises(InvalidInput):
        check_hostname(raw, "apps.localhost")


@pytest.mark.parametrize(
    ("key", "ok"),
    [
        ("A", True),
        ("_x1", True),
        ("DATABASE_URL", True),
        ("1A", False),
        ("A-B", False),
        ("", False),
        ("A B", False),
    ],
)
def test_env_keys(key: str, ok: bool) -> None:
    """Env keys follow [A-Za-z_][A-Za-z0-9_]*."""
    if ok:
        assert check_env_key(key) == key
    else:
        with pytest.raises(InvalidInput):
            check_env_key(key)


def _openssh(key: object) -> str:
    return key.public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode()


@pytest.mark.parametrize(
    ("make", "key_type"),
    [
        (ed25519.Ed25519PrivateKey.generate, "ssh-ed25519"),
        (lambda: ec.generate_private_key(ec.SECP256R1()), "ecdsa-sha2-nistp256"),
        (lambda: rsa.generate_private_key(65537, 2048), "ssh-rsa"),
    ],
)
def test_accepted_key_types_and_fingerprint(make: object, key_type: str) -> None:
    """ed25519, ecdsa and rsa>=2048 parse; the fingerprint is ssh-keygen's SHA256 form."""
    line = _openssh(make().public_key()) + " user@host"  # type: ignore[operator]
    parsed = parse_public_key(line)
    blob = base64.b64decode(line.split()[1])
    assert parsed.key_type == key_type
    assert parsed.fingerprint == "SHA256:" + base64.b64encode(
        hashlib.sha256(blob).digest()
    ).decode().rstrip("=")
    assert parsed.normalized == " ".join(line.split()[:2])


def test_refused_keys() -> None:
    """Short rsa, dsa and junk are refused naming public_key."""
    weak_rsa = rsa.generate_private_key(65537, 1024)  # noqa: S505 - the weak key under test
    weak_dsa = dsa.generate_private_key(1024)  # noqa: S505 - refused for its type
    short = _openssh(weak_rsa.public_key())
    dsa_key = _openssh(weak_dsa.public_key())
    for line in (short, dsa_key, "ssh-ed25519", "ssh-ed25519 !!!", "hello world"):
        with pytest.raises(InvalidInput) as info:
            parse_public_key(line)
        assert "public_key" in info.value.fields


def test_env_cipher_roundtrip_and_wrong_key() -> None:
    """Values round-trip; another key cannot read them; a bad key fails at start."""
    cipher = EnvCipher(generate_key())
    token = cipher.encrypt("s3cret")
    assert "s3cret" not in token
    assert cipher.decrypt(token) == "s3cret"
    with pytest.raises(DecryptionFailed):
        EnvCipher(generate_key()).decrypt(token)
    for bad in ("", "not-a-key"):
        with pytest.raises(InvalidSettings):
            EnvCipher(bad)


def test_validation_messages_name_fields() -> None:
    """Litestar's validation messages become field → problem, unknown and missing keys named."""
    fields, missing = _validation_fields(
        [
            {"message": "Object contains unknown field `colour`", "key": "data", "source": "body"},
            {"message": "Object missing required field `name`", "key": "data", "source": "body"},
            {"message": "Expected `int` >= 1", "key": "limit", "source": "query"},
        ]
    )
    assert fields == {"colour": "unknown field", "name": "required", "limit": "Expected int >= 1"}
    assert not missing
    assert _validation_fields([{"message": "'data'", "key": "data"}]) == ({}, True)
