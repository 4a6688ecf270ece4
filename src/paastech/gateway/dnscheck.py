"""Custom-domain ownership: reserved platform names and the DNS TXT challenge.

A Client proves it controls ``www.example.com`` by publishing the claim's token (given out by
the API) as a TXT record at ``_paastech-challenge.www.example.com``. The gateway asks the
resolvers in ``domains.resolvers`` (the system's when empty) — the one DNS adapter, which
maps dnspython's errors into the domain tree here.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.resolver

from paastech.errors import BackendUnavailable, InvalidInput
from paastech.settings import DomainsSettings, Settings

CHALLENGE_PREFIX = "_paastech-challenge."


def challenge_name(hostname: str) -> str:
    """Where the claim's token must be published."""
    return CHALLENGE_PREFIX + hostname


def new_challenge() -> str:
    return "paastech-verify-" + secrets.token_urlsafe(24)


def reserved_hostnames(settings: Settings) -> set[str]:
    """The platform's own names (the apps domain and its subdomains are refused elsewhere)."""
    names = {
        urlsplit(settings.gateway_url).hostname or "",
        settings.forge.public_host,
        settings.apps.domain,
        *settings.domains.reserved,
    }
    return {n.lower().strip().removesuffix(".") for n in names if n}


def check_claimable(hostname: str, settings: Settings) -> None:
    """Refuse the platform's own hostnames (gateway, dashboard, forge, ...).

    Raises:
        InvalidInput: ``hostname`` is one of them, or under ``domains.reserved`` entries.
    """
    for reserved in reserved_hostnames(settings):
        if hostname == reserved or hostname.endswith("." + reserved):
            raise InvalidInput(
                "invalid hostname", {"hostname": f"{reserved} belongs to the platform"}
            )


def _resolver(settings: DomainsSettings) -> dns.asyncresolver.Resolver:
    if not settings.resolvers:
        resolver = dns.asyncresolver.Resolver()
    else:
        resolver = dns.asyncresolver.Resolver(configure=False)
        servers: list[str | dns.nameserver.Nameserver] = []
        for entry in settings.resolvers:
            servers.append(dns.nameserver.Do53Nameserver(*_host_port(entry)))
        resolver.nameservers = servers
    resolver.lifetime = settings.timeout_seconds
    resolver.cache = None  # a record just published must be seen at once
    return resolver


def _host_port(entry: str) -> tuple[str, int]:
    """``1.2.3.4``, ``1.2.3.4:5353``, ``::1`` or ``[::1]:5353``."""
    if entry.startswith("[") and "]:" in entry:
        host, _, port = entry[1:].partition("]:")
        return host, int(port)
    if entry.count(":") == 1:
        host, _, port = entry.partition(":")
        return host, int(port)
    return entry, 53


async def txt_values(name: str, settings: DomainsSettings) -> list[str]:
    """Every string of every TXT record at ``name`` (empty when there is none).

    Raises:
        BackendUnavailable: No resolver answered in ``domains.timeout_seconds``.
    """
    try:
        answer = await _resolver(settings).resolve(name, "TXT", search=False)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except (dns.exception.Timeout, dns.resolver.NoNameservers) as exc:
        raise BackendUnavailable("the DNS resolver did not answer; try again later") from exc
    except dns.exception.DNSException as exc:
        raise BackendUnavailable("the DNS lookup failed; try again later") from exc
    return [b"".join(rr.strings).decode("utf-8", "replace") for rr in answer]
