"""Property-based fuzz of every route's path, query and body on the real database: no 5xx.

Every HTTP route of the app is found by walking its route table, so a new route is fuzzed
without touching this file. Values are what an attacker sends: NUL and other controls, lone
surrogates (as JSON escapes), RTL marks, very long strings (10^6 characters in bodies; path
segments and query values up to 12,000, under the client's URL limit), huge and negative
integers, and the wrong JSON types.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import httpx
import msgspec
import pytest
from fakes import RecordingScheduler
from gateway_harness import gateway, signup_login
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar.routes import HTTPRoute

from paastech.crypto import generate_key
from paastech.gateway.app import create_app
from paastech.services import Services
from paastech.settings import SecretsSettings, Settings

NASTY_TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "\x00",
            "a\x00b",
            "\u202eevil",
            "\u200f\u200e",
            "\ud800",
            "\udfff x",
            "İ" * 200,
            "../../etc/passwd",
            "%00",
            "web",
            "' OR 1=1 --",
            "\n\r\t",
        ]
    ),
    st.integers(min_value=1, max_value=12_000).map(lambda n: "w" * n),
)
NASTY_INT = st.one_of(
    st.integers(),
    st.sampled_from([0, -1, 2**31, 2**31 - 1, 2**40, 2**63, -(2**63) - 1, 10**30]),
)
SCALAR = st.one_of(st.none(), st.booleans(), NASTY_INT, st.floats(allow_nan=False), NASTY_TEXT)
JSON = st.recursive(
    SCALAR,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(NASTY_TEXT, inner, max_size=4)
    ),
    max_leaves=12,
)
_PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")
#: These would end the fuzzing session's own token (or all of them).
SKIPPED = {"/api/v1/auth/logout", "/api/v1/tokens/revoke-all"}


def _operations() -> list[tuple[str, str, list[str]]]:
    app = create_app(Settings(secrets=SecretsSettings(env_key=generate_key())))
    ops: list[tuple[str, str, list[str]]] = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or not route.path.startswith("/api/v1"):
            continue
        if route.path_format in SKIPPED:
            continue
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            handler = route.route_handler_map[method][0]
            names = handler.parsed_fn_signature.parameters
            query = [n for n in names if n in {"limit", "before", "reveal", "lines", "follow"}]
            ops.append((method, route.path_format, query))
    return ops


OPERATIONS = _operations()


def _body(value: Any) -> bytes:
    # ensure_ascii: lone surrogates travel as \ud800 escapes, as an attacker would send them
    return json.dumps(value, ensure_ascii=True).encode()


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, str, dict[str, str], bytes]:
    method, template, query_names = draw(st.sampled_from(OPERATIONS))
    path = _PARAM.sub("{}", template)
    for _ in range(path.count("{}")):
        segment = draw(NASTY_TEXT)
        path = path.replace("{}", quote(segment.encode("utf-8", "surrogatepass"), safe=""), 1)
    query = {
        name: str(draw(st.one_of(NASTY_INT, NASTY_TEXT, st.booleans())))
        for name in query_names
        if draw(st.booleans())
    }
    big = draw(st.sampled_from([None, None, None, "x" * 1_000_000]))
    body = _body(big if big is not None else draw(JSON))
    return method, path, query, body


@pytest.fixture
async def fuzzed(
    settings: Settings, clean_db: object
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    """A gateway whose DNS resolver is a closed loopback port (no lookup leaves the host)."""
    domains = msgspec.structs.replace(settings.domains, resolvers=["127.0.0.1:9"])
    quiet = msgspec.structs.replace(settings, domains=domains)
    async with gateway(quiet, Services(scheduler=RecordingScheduler())) as c:
        yield c, await signup_login(c, "fuzz@example.com")


@settings(
    max_examples=600,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=requests())
async def test_no_input_gets_a_5xx(
    fuzzed: tuple[httpx.AsyncClient, dict[str, str]], case: tuple[str, str, dict[str, str], bytes]
) -> None:
    """Whatever the path, query and body, the answer is never a server error."""
    api, who = fuzzed
    method, path, query, body = case
    query = {k: v.encode("utf-8", "surrogatepass").decode("latin-1") for k, v in query.items()}
    if path.startswith("/api/v1/projects/web") or path == "/api/v1/projects":
        await api.post("/api/v1/projects", json={"name": "web"}, headers=who)
    headers = {**who, "content-type": "application/json"}
    r = await api.request(method, path, params=query, content=body, headers=headers)
    assert r.status_code < 500, (method, path[:200], query, body[:200], r.status_code, r.text[:300])
