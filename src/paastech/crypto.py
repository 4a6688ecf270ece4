"""Env-value encryption at rest: Fernet (AES-128-CBC + HMAC-SHA256) under ``secrets.env_key``.

Only ciphertext reaches the database; plaintext exists in memory while a request or a
deploy needs it. A missing or malformed key is a start-up error, never a silent plaintext.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken

from paastech.errors import InvalidSettings, PaasTechError


class DecryptionFailed(PaasTechError):
    """A stored value cannot be decrypted with the configured key (rotated or corrupt)."""

    title = "decryption failed"


class EnvCipher:
    """Encrypts and decrypts env values with one Fernet key."""

    def __init__(self, key: str) -> None:
        """Args:
        key: A url-safe base64 Fernet key (``Fernet.generate_key()``).

        Raises:
            InvalidSettings: The key is empty or not a Fernet key.
        """
        if not key:
            raise InvalidSettings("secrets.env_key: required to encrypt env values")
        try:
            self._fernet = Fernet(key.encode())
        except (ValueError, TypeError) as exc:
            raise InvalidSettings("secrets.env_key: not a valid Fernet key") from exc

    def encrypt(self, value: str) -> str:
        """The ciphertext token of ``value`` (different on every call)."""
        return self._fernet.encrypt(value.encode()).decode()

    def decrypt(self, token: str) -> str:
        """The plaintext of a token made by :meth:`encrypt`.

        Raises:
            DecryptionFailed: The token was made with another key or was altered.
        """
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise DecryptionFailed("an env value cannot be decrypted with secrets.env_key") from exc


def generate_key() -> str:
    """A fresh Fernet key, as text."""
    return Fernet.generate_key().decode()
