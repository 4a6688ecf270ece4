"""The runtime routes on the scheduler's real Nomad read side: a Nomad that cannot be reached
is a 503 problem for instances and logs alike, never a 200 whose body breaks off."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import httpx
import pytest

from paastech.scheduler.nomad import NomadApi
from paastech.scheduler.runtime import RuntimeReads
from paastech.services import Scheduler
from paastech.settings import NomadSettings

pytestmark = pytest.mark.integration

V1 = "/api/v1"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def scheduler() -> AsyncIterator[Scheduler]:
    """Reads from a Nomad address where nothing listens (as during a Nomad outage)."""
    nomad = NomadApi(NomadSettings(address=f"http://127.0.0.1:{_closed_port()}", token="t"))
    yield RuntimeReads(nomad)
    await nomad.aclose()


@pytest.mark.parametrize("follow", ["false", "true"])
async def test_nomad_outage_is_a_503_for_instances_and_logs(
    api: httpx.AsyncClient, alice: dict[str, str], follow: str
) -> None:
    """Both runtime views answer 503 with the reason while Nomad cannot be reached."""
    r = await api.post(f"{V1}/projects", json={"name": "web"}, headers=alice)
    assert r.status_code == 201, r.text
    instances = await api.get(f"{V1}/projects/web/instances", headers=alice)
    logs = await api.get(f"{V1}/projects/web/logs", params={"follow": follow}, headers=alice)
    for answer in (instances, logs):
        assert answer.status_code == 503, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert "nomad" in answer.json()["detail"]
