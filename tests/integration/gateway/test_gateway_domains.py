"""Custom domains: reserved platform names, the DNS TXT challenge on a real DNS server (#15).

The DNS server is dnslib's, started by the test on 127.0.0.1 (random port) and answering
from a dict the test fills; the gateway asks it through ``domains.resolvers``.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import msgspec
import pytest
from dbrows import sql
from dnslib import QTYPE, RR, TXT
from dnslib.server import BaseResolver, DNSServer
from gateway_harness import gateway, signup_login

from paastech.services import Services
from paastech.settings import Settings

V1 = "/api/v1"


class Zone(BaseResolver):  # type: ignore[misc] - dnslib is untyped
    """TXT records by name (no trailing dot); every other question gets NXDOMAIN."""

    def __init__(self) -> None:
        self.txt: dict[str, list[str]] = {}

    def resolve(self, request, handler):  # type: ignore[no-untyped-def]
        reply = request.reply()
        name = str(request.q.qname).rstrip(".")
        if request.q.qtype == QTYPE.TXT and name in self.txt:
            for value in self.txt[name]:
                reply.add_answer(RR(request.q.qname, QTYPE.TXT, rdata=TXT(value), ttl=1))
        else:
            reply.header.rcode = 3  # NXDOMAIN
        return reply


@pytest.fixture
def zone() -> Iterator[tuple[Zone, str]]:
    """A real DNS server on loopback: (its zone, "127.0.0.1:<port>")."""
    records = Zone()
    server = DNSServer(records, port=0, address="127.0.0.1")
    server.start_thread()
    try:
        yield records, f"127.0.0.1:{server.server.server_address[1]}"
    finally:
        server.stop()


@pytest.fixture
def dns_settings(settings: Settings, zone: tuple[Zone, str]) -> Settings:
    domains = msgspec.structs.replace(
        settings.domains, resolvers=[zone[1]], timeout_seconds=3.0, reserved=["dash.example.net"]
    )
    gw = msgspec.structs.replace(settings.gateway, public_url="https://api.example.net")
    forge = msgspec.structs.replace(settings.forge, public_host="git.example.net")
    return msgspec.structs.replace(settings, domains=domains, gateway=gw, forge=forge)


async def _routable(settings: Settings) -> list[str]:
    return [r["hostname"] for r in await sql(settings, "SELECT hostname FROM routable_domains")]


async def test_a_domain_is_routed_only_after_its_txt_challenge_holds_the_token(
    dns_settings: Settings, clean_db: object, zone: tuple[Zone, str]
) -> None:
    """No record: 422 and not routed; a wrong record: 422; the token: verified and routed."""
    records, _ = zone
    async with gateway(dns_settings, Services()) as api:
        alice = await signup_login(api, "alice@example.com")
        assert (await api.post(f"{V1}/projects", json={"name": "web"}, headers=alice)).is_success
        r = await api.post(
            f"{V1}/projects/web/domains", json={"hostname": "www.example.com"}, headers=alice
        )
        assert r.status_code == 201, r.text
        claim = r.json()
        assert claim["verified"] is False
        assert claim["challenge_record"] == "_paastech-challenge.www.example.com"
        token = claim["challenge_value"]
        verify = f"{V1}/projects/web/domains/www.example.com/verify"
        r = await api.post(verify, headers=alice)
        assert r.status_code == 422
        assert "no TXT record" in r.json()["errors"]["hostname"]
        records.txt["_paastech-challenge.www.example.com"] = ["something else"]
        r = await api.post(verify, headers=alice)
        assert r.status_code == 422
        assert "does not hold the token" in r.json()["errors"]["hostname"]
        assert await _routable(dns_settings) == []
        records.txt["_paastech-challenge.www.example.com"] = ["v=1", token]
        r = await api.post(verify, headers=alice)
        assert r.status_code == 200, r.text
        assert r.json()["verified"] is True
        assert await _routable(dns_settings) == ["www.example.com"]


async def test_a_freed_hostname_must_be_proved_again(
    dns_settings: Settings, clean_db: object, zone: tuple[Zone, str]
) -> None:
    """After alice removes her verified domain, bob's claim needs bob's own token."""
    records, _ = zone
    async with gateway(dns_settings, Services()) as api:
        alice = await signup_login(api, "alice@example.com")
        bob = await signup_login(api, "bob@example.com")
        await api.post(f"{V1}/projects", json={"name": "web"}, headers=alice)
        await api.post(f"{V1}/projects", json={"name": "shop"}, headers=bob)
        body = {"hostname": "www.example.com"}
        first = (await api.post(f"{V1}/projects/web/domains", json=body, headers=alice)).json()
        records.txt["_paastech-challenge.www.example.com"] = [first["challenge_value"]]
        verify = f"{V1}/projects/web/domains/www.example.com/verify"
        assert (await api.post(verify, headers=alice)).status_code == 200
        r = await api.post(f"{V1}/projects/shop/domains", json=body, headers=bob)
        assert r.status_code == 409  # held while alice has it
        r = await api.delete(f"{V1}/projects/web/domains/www.example.com", headers=alice)
        assert r.status_code == 204
        r = await api.post(f"{V1}/projects/shop/domains", json=body, headers=bob)
        assert r.status_code == 201
        second = r.json()
        assert second["verified"] is False
        assert second["challenge_value"] != first["challenge_value"]
        assert await _routable(dns_settings) == []
        verify = f"{V1}/projects/shop/domains/www.example.com/verify"
        assert (await api.post(verify, headers=bob)).status_code == 422  # alice's token
        records.txt["_paastech-challenge.www.example.com"] = [second["challenge_value"]]
        assert (await api.post(verify, headers=bob)).status_code == 200


async def test_a_stale_unproved_claim_gives_way(dns_settings: Settings, clean_db: object) -> None:
    """A claim unproved for domains.pending_hours no longer blocks another Client."""
    async with gateway(dns_settings, Services()) as api:
        alice = await signup_login(api, "alice@example.com")
        bob = await signup_login(api, "bob@example.com")
        await api.post(f"{V1}/projects", json={"name": "web"}, headers=alice)
        await api.post(f"{V1}/projects", json={"name": "shop"}, headers=bob)
        body = {"hostname": "www.example.com"}
        assert (await api.post(f"{V1}/projects/web/domains", json=body, headers=alice)).is_success
        assert (
            await api.post(f"{V1}/projects/shop/domains", json=body, headers=bob)
        ).status_code == 409
        await sql(dns_settings, "UPDATE domains SET created_at = now() - interval '49 hours'")
        assert (
            await api.post(f"{V1}/projects/shop/domains", json=body, headers=bob)
        ).status_code == 201
        listed = (await api.get(f"{V1}/projects/web/domains", headers=alice)).json()
        assert listed == []


@pytest.mark.parametrize(
    "hostname",
    ["api.example.net", "git.example.net", "dash.example.net", "x.dash.example.net",
     "web.apps.localhost", "apps.localhost"],
)  # fmt: skip
async def test_the_platforms_own_hostnames_are_reserved(
    dns_settings: Settings, clean_db: object, hostname: str
) -> None:
    """The gateway's, forge's, dashboard's names and anything under the apps domain: 422."""
    async with gateway(dns_settings, Services()) as api:
        alice = await signup_login(api, "alice@example.com")
        await api.post(f"{V1}/projects", json={"name": "web"}, headers=alice)
        r = await api.post(f"{V1}/projects/web/domains", json={"hostname": hostname}, headers=alice)
        assert r.status_code == 422, r.text
        assert "hostname" in r.json()["errors"]


async def test_an_unanswering_resolver_is_503(settings: Settings, clean_db: object) -> None:
    """A resolver that never answers gives 503 after domains.timeout_seconds, not a hang."""
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    try:
        domains = msgspec.structs.replace(
            settings.domains,
            resolvers=[f"127.0.0.1:{silent.getsockname()[1]}"],
            timeout_seconds=1.0,
        )
        quiet = msgspec.structs.replace(settings, domains=domains)
        async with gateway(quiet, Services()) as api:
            alice = await signup_login(api, "alice@example.com")
            await api.post(f"{V1}/projects", json={"name": "web"}, headers=alice)
            body = {"hostname": "www.example.com"}
            await api.post(f"{V1}/projects/web/domains", json=body, headers=alice)
            r = await api.post(f"{V1}/projects/web/domains/www.example.com/verify", headers=alice)
            assert r.status_code == 503
    finally:
        silent.close()
