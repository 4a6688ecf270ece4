"""Saved logins, one per gateway URL, in ``$XDG_CONFIG_HOME/paastech/credentials.toml``.

The file holds bearer tokens, so it is created with mode 0600 (its directory 0700) and
rewritten atomically: a reader never sees half a file and the secret is never world-readable,
not even for the instant between ``open`` and ``chmod``.

    [gateways."http://127.0.0.1:8000"]
    email = "ada@example.com"
    token = "…"
    expires_at = "2026-12-01T10:00:00+00:00"
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import tempfile
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700


@dataclass(frozen=True)
class Credentials:
    """A session for one gateway."""

    token: str
    email: str = ""
    expires_at: str = ""

    def expired(self, now: dt.datetime | None = None) -> bool:
        """True once ``expires_at`` (ISO 8601) has passed; unknown expiry never expires here."""
        try:
            expires = dt.datetime.fromisoformat(self.expires_at)
        except ValueError:
            return False
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=dt.UTC)
        return expires <= (now or dt.datetime.now(dt.UTC))


def config_dir(environ: Mapping[str, str]) -> Path:
    """``$XDG_CONFIG_HOME/paastech``, else ``~/.config/paastech`` (HOME from ``environ``)."""
    xdg = environ.get("XDG_CONFIG_HOME", "")
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "paastech"
    home = environ.get("HOME") or str(Path.home())
    return Path(home) / ".config" / "paastech"


def normalize_url(url: str) -> str:
    """The key a gateway is saved under: no trailing slash, so both spellings match."""
    return url.strip().rstrip("/")


class CredentialStore:
    """Read and write the credentials file.

    Args:
        path: The TOML file (see :func:`config_dir`).
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def for_environ(cls, environ: Mapping[str, str]) -> CredentialStore:
        return cls(config_dir(environ) / "credentials.toml")

    def load(self) -> dict[str, Credentials]:
        """Every saved session by gateway URL; an absent file is an empty store."""
        try:
            data = tomllib.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise CredentialsError(f"cannot read {self.path}: {exc}") from exc
        gateways = data.get("gateways", {})
        found: dict[str, Credentials] = {}
        if isinstance(gateways, dict):
            for url, entry in gateways.items():
                if isinstance(entry, dict) and isinstance(entry.get("token"), str):
                    found[normalize_url(url)] = Credentials(
                        token=entry["token"],
                        email=str(entry.get("email", "")),
                        expires_at=str(entry.get("expires_at", "")),
                    )
        return found

    def get(self, url: str) -> Credentials | None:
        return self.load().get(normalize_url(url))

    def put(self, url: str, credentials: Credentials) -> None:
        """Save (or replace) the session for ``url``."""
        entries = self.load()
        entries[normalize_url(url)] = credentials
        self._write(entries)

    def remove(self, url: str) -> bool:
        """Forget the session for ``url``; True when there was one."""
        entries = self.load()
        if entries.pop(normalize_url(url), None) is None:
            return False
        self._write(entries)
        return True

    def _write(self, entries: Mapping[str, Credentials]) -> None:
        self.path.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        text = "# PaaSTech CLI sessions; written by `paastech login`. Keep private.\n"
        for url, creds in sorted(entries.items()):
            text += f"\n[gateways.{_toml_str(url)}]\n"
            text += f"email = {_toml_str(creds.email)}\n"
            text += f"token = {_toml_str(creds.token)}\n"
            text += f"expires_at = {_toml_str(creds.expires_at)}\n"
        # mkstemp creates the file 0600 already; the chmod is for umasks that are stricter still.
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".credentials-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.chmod(tmp, FILE_MODE)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


class CredentialsError(Exception):
    """The credentials file exists but cannot be read."""


def _toml_str(value: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    out = ['"']
    for ch in value:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)
