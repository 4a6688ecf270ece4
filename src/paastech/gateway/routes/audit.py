"""The Client's own audit trail."""

from __future__ import annotations

from typing import Annotated

from litestar import Router, get
from litestar.di import NamedDependency
from litestar.params import Parameter
from piccolo.custom_types import Combinable

from paastech.db.tables import AuditEvent
from paastech.gateway.auth import Caller
from paastech.gateway.errors import responses
from paastech.gateway.schemas import AuditOut
from paastech.gateway.validation import INT8_MAX


@get(responses=responses(401, 422), summary="Newest first: who, what, target, when, from where")
async def list_audit(
    caller: NamedDependency[Caller],
    limit: Annotated[int, Parameter(ge=1, le=1000)] = 100,
    before: Annotated[
        int | None, Parameter(ge=1, le=INT8_MAX, description="Events older than this id")
    ] = None,
) -> list[AuditOut]:
    where: Combinable = AuditEvent.client == caller.client_id
    if before is not None:
        where = where & (AuditEvent.id < before)
    rows = (
        await AuditEvent.select(
            AuditEvent.id,
            AuditEvent.actor,
            AuditEvent.action,
            AuditEvent.target,
            AuditEvent.ip,
            AuditEvent.detail,
            AuditEvent.created_at,
        )
        .where(where)
        .order_by(AuditEvent.id, ascending=False)
        .limit(limit)
        .output(load_json=True)
        .run()
    )
    return [AuditOut(**row) for row in rows]


router = Router(path="/audit", route_handlers=[list_audit], tags=["audit"])
