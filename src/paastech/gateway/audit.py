"""Audit events: one row per mutating call, written in the same transaction as the change."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from paastech.db.tables import AuditEvent
from paastech.gateway.auth import Caller, utcnow


async def record(
    caller: Caller,
    action: str,
    target: str = "",
    detail: dict[str, Any] | None = None,
) -> None:
    """Append an event for the caller's Client. Call it inside the change's transaction.

    ``detail`` must never carry secrets: env changes list keys, not values.
    """
    await record_for(
        caller.client_id,
        actor=caller.email,
        ip=caller.ip,
        action=action,
        target=target,
        detail=detail,
    )


async def record_for(
    client_id: UUID,
    *,
    actor: str,
    ip: str,
    action: str,
    target: str = "",
    detail: dict[str, Any] | None = None,
) -> None:
    """Like :func:`record` for calls made before a Caller exists (signup, login)."""
    await AuditEvent.insert(
        AuditEvent(
            client=client_id,
            actor=actor,
            action=action,
            target=target[:255],
            ip=ip,
            detail=detail or {},
            created_at=utcnow(),
        )
    ).run()
