"""Property-based contract test: schemathesis against the live OpenAPI of a running gateway.

The gateway runs under uvicorn on 127.0.0.1 (port 0) on the real PostgreSQL; schemathesis
loads ``/api/openapi.json`` from it and sends generated requests — positive and negative —
authenticated with a real token, with a fixed seed. Every response must be a non-5xx whose
status, content type, headers and body are documented by the schema.

The scheduler's reads are the recording stand-in (it answers): a reachable backend is what
lets "zero 5xx" be strict here; the 503 paths are pinned by the integration tests, and the
real reads by ``test_gateway_runtime.py``. ``/auth/logout`` and ``/tokens/revoke-all`` are
skipped because they would revoke the run's own token.
``/readyz`` answers a documented 503 while Nomad, the registry or Fabio are not running, so
for it alone the 5xx check is off (its body is still validated against the schema).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import hypothesis
import pytest
import schemathesis
import uvicorn
from fakes import RecordingScheduler
from gateway_harness import PASSWORD
from hypothesis import HealthCheck, Phase
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from paastech.gateway.app import create_app
from paastech.services import Services
from paastech.settings import Settings

SEED = 20261129
EXAMPLES_PER_OPERATION = 80
MIN_CASES = 2000
SKIPPED = {("POST", "/api/v1/auth/logout"), ("POST", "/api/v1/tokens/revoke-all")}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture
def live_gateway(settings: Settings, clean_db: Any) -> Iterator[str]:
    """The gateway under uvicorn on an ephemeral loopback port; yields its base URL."""
    app = create_app(settings, Services(scheduler=RecordingScheduler()))
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, lifespan="on", log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive(), "gateway failed to start"
        assert time.monotonic() < deadline, "gateway did not start in 20 s"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_schemathesis_finds_no_5xx_and_no_schema_violations(live_gateway: str) -> None:
    """Generated requests to every operation get documented, schema-valid, non-5xx answers."""
    with httpx.Client(base_url=live_gateway) as client:
        email = "fuzz@example.com"
        client.post("/api/v1/auth/signup", json={"email": email, "password": PASSWORD})
        token = client.post(
            "/api/v1/auth/login", json={"email": email, "password": PASSWORD}
        ).json()["token"]
        # Something to find: a project of the caller's, so fuzzed paths reach real rows too.
        client.post(
            "/api/v1/projects", json={"name": "web"}, headers={"Authorization": f"Bearer {token}"}
        )
    headers = {"Authorization": f"Bearer {token}"}
    schema = schemathesis.openapi.from_url(f"{live_gateway}/api/openapi.json")
    cases = 0
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in SKIPPED:
            continue
        operations += 1
        strategy = operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(
            GenerationMode.NEGATIVE
        )

        @hypothesis.seed(SEED)
        @hypothesis.settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            derandomize=False,
            phases=[Phase.explicit, Phase.generate, Phase.shrink],
            suppress_health_check=list(HealthCheck),
        )
        @hypothesis.given(case=strategy)
        def exercise(case: schemathesis.Case) -> None:
            nonlocal cases
            cases += 1
            response = case.call(base_url=live_gateway, headers=headers, timeout=30)
            statuses[response.status_code] += 1
            checks = CHECKS[1:] if case.operation.path == "/readyz" else CHECKS
            case.validate_response(response, checks=checks, headers=headers)

        try:
            exercise()
        except (Exception, BaseExceptionGroup) as exc:  # report all operations, then fail
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    print(f"schemathesis: {cases} cases over {operations} operations, statuses {dict(statuses)}")
    assert operations >= 25
    assert not failures, "\n\n".join(failures)
    assert cases >= MIN_CASES, f"only {cases} generated cases"
