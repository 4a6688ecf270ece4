"""Liveness (the process answers) and readiness (every component it needs answers)."""

from __future__ import annotations

from litestar import Response, Router, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec

from paastech import health
from paastech.gateway.schemas import ComponentOut, HealthOut, ReadyOut

_OK = HealthOut(status="ok")


@get("/healthz", security=[{}], summary="Liveness")  # [{}]: anonymous, no token
async def healthz() -> HealthOut:
    return _OK


@get(
    "/readyz",
    security=[{}],  # anonymous: no token needed
    summary="Readiness of postgres, nomad, docker, registry and fabio (503 when any fails)",
    responses={
        503: ResponseSpec(data_container=ReadyOut, description="At least one component is failing")
    },
)
async def readyz(readiness: NamedDependency[health.ReadinessCache]) -> Response[ReadyOut]:
    results = await readiness.get()
    body = ReadyOut(
        status="ok" if all(s.ok for s in results.values()) else "failing",
        components={name: ComponentOut(ok=s.ok, reason=s.reason) for name, s in results.items()},
    )
    return Response(body, status_code=200 if body.status == "ok" else 503)


router = Router(path="/", route_handlers=[healthz, readyz], tags=["health"])
