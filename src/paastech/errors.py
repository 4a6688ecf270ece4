"""The one domain error tree. Adapters map foreign errors into it once; edges render it.

    PaasTechError
    ├── InvalidSettings          configuration cannot be loaded (start-up only)
    ├── NotFound                 no such thing, or not the caller's (never leak existence)
    ├── Conflict                 a duplicate or a state that forbids the change
    ├── InvalidInput             a value the caller sent is wrong; ``fields`` names each
    ├── Unauthenticated          missing, bad or expired credentials
    ├── PermissionDenied         authenticated but not allowed
    ├── RateLimited              too many attempts; ``retry_after`` seconds
    ├── PayloadTooLarge          a body or push over its limit
    └── BackendError             a component the request needs failed
        ├── BackendUnavailable   a component cannot be reached (or is not implemented yet)
        │   ├── NomadUnavailable
        │   ├── DatabaseUnavailable
        │   └── ProvisionError   a real component could not be installed or started
        ├── GitError
        ├── BuildFailed
        └── WakeFailed           a sleeping app did not answer within the hold time

Edges: the gateway renders RFC 9457 problem+json (``gateway/errors.py``), the forge a
``!``-prefixed line and a non-zero exit, the CLI a one-line message and an exit code.
"""

from __future__ import annotations


class PaasTechError(Exception):
    """Base of every error PaaSTech raises on purpose."""

    title = "error"

    def __init__(self, message: str = "") -> None:
        super().__init__(message or self.title)
        self.message = message or self.title


class InvalidSettings(PaasTechError):
    title = "invalid settings"


class NotFound(PaasTechError):
    title = "not found"


class Conflict(PaasTechError):
    title = "conflict"


class InvalidInput(PaasTechError):
    """A value is wrong. ``fields`` maps each offending field to what is wrong with it."""

    title = "invalid input"

    def __init__(self, message: str = "", fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.fields = dict(fields or {})


class Unauthenticated(PaasTechError):
    title = "unauthenticated"


class PermissionDenied(PaasTechError):
    title = "permission denied"


class RateLimited(PaasTechError):
    title = "too many requests"

    def __init__(self, message: str = "", retry_after: int = 60) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PayloadTooLarge(PaasTechError):
    title = "payload too large"


class BackendError(PaasTechError):
    title = "backend error"


class BackendUnavailable(BackendError):
    title = "backend unavailable"


class NomadUnavailable(BackendUnavailable):
    title = "nomad unavailable"


class DatabaseUnavailable(BackendUnavailable):
    title = "database unavailable"


class ProvisionError(BackendUnavailable):
    title = "provisioning failed"


class GitError(BackendError):
    title = "git error"


class BuildFailed(BackendError):
    title = "build failed"


class WakeFailed(BackendError):
    title = "wake failed"
