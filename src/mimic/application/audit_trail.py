"""Who is acting and from where, and the audit events interactors record about it."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType

from mimic.domain.audit import AuditEvent
from mimic.ports.repositories import AuditLog


@dataclass(frozen=True, slots=True)
class RequestContext:
    """The caller as the HTTP layer saw it; `actor_id` None for an anonymous caller."""

    actor_id: str | None = None
    ip: str | None = None


SYSTEM = RequestContext()


def audit_event(
    context: RequestContext,
    at: datetime,
    action: str,
    *,
    target: str | None = None,
    actor_id: str | None = None,
    **details: str,
) -> AuditEvent:
    return AuditEvent(
        id=uuid.uuid4().hex,
        at=at,
        action=action,
        actor_id=actor_id if actor_id is not None else context.actor_id,
        target=target,
        ip=context.ip,
        details=MappingProxyType(details),
    )


class ReadAuditTrail:
    def __init__(self, audit: AuditLog) -> None:
        self._audit = audit

    async def __call__(
        self, *, offset: int, limit: int, action: str | None, actor_id: str | None
    ) -> list[AuditEvent]:
        return await self._audit.list(
            offset=offset, limit=limit, action=action or None, actor_id=actor_id or None
        )
