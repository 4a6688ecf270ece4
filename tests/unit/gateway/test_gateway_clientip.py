"""Which X-Forwarded-For hop is the client, for a given peer and trusted proxies."""

from __future__ import annotations

import pytest

from paastech.gateway.clientip import resolve

TRUSTED = ["127.0.0.1", "10.0.0.0/8", "::1"]


@pytest.mark.parametrize(
    ("peer", "forwarded", "proxies", "client"),
    [
        ("192.0.2.1", ["6.6.6.6"], TRUSTED, "192.0.2.1"),  # untrusted peer: header ignored
        ("127.0.0.1", [], TRUSTED, "127.0.0.1"),  # nothing forwarded
        ("127.0.0.1", ["6.6.6.6, 192.0.2.9"], TRUSTED, "192.0.2.9"),  # right-most untrusted
        ("127.0.0.1", ["6.6.6.6, 192.0.2.9, 10.2.3.4"], TRUSTED, "192.0.2.9"),  # two proxies
        ("127.0.0.1", ["6.6.6.6", "192.0.2.9"], TRUSTED, "192.0.2.9"),  # two header lines
        ("127.0.0.1", ["10.0.0.1, 10.0.0.2"], TRUSTED, "10.0.0.1"),  # all trusted: left-most
        ("127.0.0.1", ["garbage, 192.0.2.9"], TRUSTED, "192.0.2.9"),  # junk left of the client
        ("127.0.0.1", ["192.0.2.9, junk"], TRUSTED, "127.0.0.1"),  # junk from the proxy itself
        ("127.0.0.1", ["192.0.2.9:5555"], TRUSTED, "192.0.2.9"),  # v4 with a port
        ("127.0.0.1", ["[2001:db8::1]:80"], TRUSTED, "2001:db8::1"),  # v6 with a port
        ("::ffff:127.0.0.1", ["192.0.2.9"], TRUSTED, "192.0.2.9"),  # v4-mapped peer
        ("127.0.0.1", ["192.0.2.9"], [], "127.0.0.1"),  # no proxies configured
        ("127.0.0.1", ["192.0.2.9"], ["not a network"], "127.0.0.1"),  # a typo trusts nothing
    ],
)
def test_client_is_the_right_most_untrusted_hop(
    peer: str, forwarded: list[str], proxies: list[str], client: str
) -> None:
    """Trusted hops vouch for the one before them; the first untrusted one is the client."""
    assert resolve(peer, forwarded, proxies) == client
