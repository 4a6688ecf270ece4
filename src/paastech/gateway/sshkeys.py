"""Pure parsing of OpenSSH public keys: accepted types and the ssh-keygen fingerprint."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_ssh_public_key

from paastech.errors import InvalidInput

MIN_RSA_BITS = 2048


@dataclass(frozen=True)
class ParsedKey:
    """An accepted public key, normalised to ``<type> <base64>`` (comment dropped)."""

    key_type: str
    normalized: str
    fingerprint: str


def fingerprint(blob: bytes) -> str:
    """``SHA256:<base64 without padding>`` of the key blob, exactly as ssh-keygen prints it."""
    digest = hashlib.sha256(blob).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def parse_public_key(text: str) -> ParsedKey:
    """Parse one OpenSSH public key line.

    Raises:
        InvalidInput: Not a key, a type other than ed25519 / ecdsa / rsa, or rsa < 2048 bits.
    """
    parts = text.strip().split()
    bad = InvalidInput("invalid public key", {"public_key": "not an OpenSSH public key"})
    if len(parts) < 2:
        raise bad
    key_type, b64 = parts[0], parts[1]
    try:
        blob = base64.b64decode(b64, validate=True)
        key = load_ssh_public_key(f"{key_type} {b64}".encode())
    except (ValueError, UnsupportedAlgorithm, TypeError) as exc:
        raise bad from exc
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise InvalidInput(
                "invalid public key",
                {"public_key": f"rsa keys need at least {MIN_RSA_BITS} bits"},
            )
    elif not isinstance(key, ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey):
        raise InvalidInput(
            "invalid public key", {"public_key": "only ed25519, ecdsa and rsa keys are accepted"}
        )
    return ParsedKey(
        key_type=key_type, normalized=f"{key_type} {b64}", fingerprint=fingerprint(blob)
    )
