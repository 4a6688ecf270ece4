"""Who is calling: the client address behind the gateway's trusted proxies.

``X-Forwarded-For`` is written by whoever sends the request, so only the hops appended by
proxies the operator trusts (``gateway.trusted_proxies``: addresses or networks, the
dashboard's included) can be believed. The list is walked right to left from the peer:
each trusted hop vouches for the one before it; the first hop that is not trusted is the
client. Anything a caller writes to the left of that is ignored, so rotating it neither
escapes the per-IP login limit nor forges the audit trail's address.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable, Sequence
from typing import Any

from litestar.connection import ASGIConnection

from paastech.settings import GatewaySettings

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_IP_CHARS = 64  # audit_events.ip and login_attempts.ip are varchar(64)


@functools.lru_cache(maxsize=32)
def _networks(proxies: tuple[str, ...]) -> tuple[_Network, ...]:
    nets: list[_Network] = []
    for entry in proxies:
        try:
            nets.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            continue  # settings validation names bad entries; never trust a typo
    return tuple(nets)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def resolve(peer: str, forwarded: Iterable[str], proxies: Sequence[str]) -> str:
    """The client address for a connection from ``peer`` carrying these XFF headers.

    Args:
        peer: The TCP peer's address.
        forwarded: Every ``X-Forwarded-For`` header value, in the order received.
        proxies: ``gateway.trusted_proxies``.
    """
    nets = _networks(tuple(proxies))
    current = _address(peer)
    if current is None:
        return peer[:MAX_IP_CHARS]
    hops = [h for value in forwarded for h in value.split(",") if h.strip()]
    while hops and any(current in net for net in nets):
        previous = _address(hops.pop())
        if previous is None:
            break  # a garbled hop: the last trusted address is all that is known
        current = previous
    return str(current)[:MAX_IP_CHARS]


def client_ip(connection: ASGIConnection[Any, Any, Any, Any], settings: GatewaySettings) -> str:
    """The client address of a request (see the module docstring)."""
    peer = connection.client.host if connection.client else ""
    forwarded = [
        v.decode("latin-1") for k, v in connection.scope["headers"] if k == b"x-forwarded-for"
    ]
    if not forwarded or not settings.trusted_proxies:
        return peer[:MAX_IP_CHARS]
    return resolve(peer, forwarded, settings.trusted_proxies)
