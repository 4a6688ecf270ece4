"""The shim's settings, read from the environment the scheduler gives the container. Pure.

=========================== ========= ==========================================================
Variable                    Default   Meaning
=========================== ========= ==========================================================
``PAASTECH_HANDLER``        required  ``module:function`` (``module:obj.attr`` also works)
``HOST`` / ``PORT``         0.0.0.0 / where the service listens
                            8080
``PAASTECH_CONTROL_PORT``   unset     the control listener's port on ``HOST`` (unset: off)
``PAASTECH_HANDLER_KIND``   auto      ``auto`` (ASGI when the signature says so), ``plain``,
                                      ``asgi``
``PAASTECH_MAX_BODY_BYTES`` 10485760  larger request bodies answer 413
``PAASTECH_KEEP_ALIVE``     75        seconds an idle keep-alive connection is kept (longer
                                      than Go's 90 s proxies would race; Fabio re-dials)
``PAASTECH_DRAIN_TIMEOUT``  30        seconds SIGTERM waits for in-flight requests
``PAASTECH_THREADS``        32        threads running sync handlers
=========================== ========= ==========================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

KINDS = ("auto", "plain", "asgi")


class ConfigError(ValueError):
    """A setting is missing or malformed (the message names the variable)."""


@dataclass(frozen=True)
class ShimConfig:
    """Everything the shim reads from its environment."""

    handler: str
    host: str = "0.0.0.0"  # noqa: S104 - a container listens on all of its interfaces
    port: int = 8080
    control_port: int | None = None
    handler_kind: str = "auto"
    max_body_bytes: int = 10 * 1024 * 1024
    keep_alive_timeout: float = 75.0
    drain_timeout: float = 30.0
    threads: int = 32


def load_config(environ: Mapping[str, str]) -> ShimConfig:
    """The settings in ``environ`` (see the module docstring for each variable).

    Raises:
        ConfigError: A variable is missing or out of range.
    """
    handler = environ.get("PAASTECH_HANDLER", "").strip()
    if ":" not in handler:
        raise ConfigError('PAASTECH_HANDLER must be "module:function"')
    kind = environ.get("PAASTECH_HANDLER_KIND", "auto").strip().lower() or "auto"
    if kind not in KINDS:
        raise ConfigError(f"PAASTECH_HANDLER_KIND must be one of {', '.join(KINDS)}")
    control = environ.get("PAASTECH_CONTROL_PORT", "").strip()
    return ShimConfig(
        handler=handler,
        host=environ.get("HOST", "").strip() or ShimConfig.host,
        port=_int(environ, "PORT", ShimConfig.port, 0, 65535),
        control_port=_int(environ, "PAASTECH_CONTROL_PORT", 0, 0, 65535) if control else None,
        handler_kind=kind,
        max_body_bytes=_int(environ, "PAASTECH_MAX_BODY_BYTES", ShimConfig.max_body_bytes, 0),
        keep_alive_timeout=_float(environ, "PAASTECH_KEEP_ALIVE", ShimConfig.keep_alive_timeout),
        drain_timeout=_float(environ, "PAASTECH_DRAIN_TIMEOUT", ShimConfig.drain_timeout),
        threads=_int(environ, "PAASTECH_THREADS", ShimConfig.threads, 1),
    )


def _int(
    environ: Mapping[str, str], name: str, default: int, low: int, high: int | None = None
) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, not {raw!r}") from None
    if value < low or (high is not None and value > high):
        bounds = f"from {low} to {high}" if high is not None else f"at least {low}"
        raise ConfigError(f"{name} must be {bounds}")
    return value


def _float(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, not {raw!r}") from None
    if not value > 0:
        raise ConfigError(f"{name} must be positive")
    return value
