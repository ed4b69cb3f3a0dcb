"""The audit trail on SQLAlchemy Core."""

import json
from types import MappingProxyType
from typing import Any

from sqlalchemy import RowMapping, select
from sqlalchemy.ext.asyncio import AsyncSession

from mimic.adapters.sqlalchemy.tables import audit_events
from mimic.domain.audit import AuditEvent
from mimic.ports.repositories import AuditLog


class SqlAuditLog(AuditLog):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def record(self, event: AuditEvent) -> None:
        await self._session.execute(
            audit_events.insert().values(
                id=event.id,
                at=event.at,
                action=event.action,
                actor_id=event.actor_id,
                target=event.target,
                ip=event.ip,
                details=json.dumps(dict(event.details), sort_keys=True),
            )
        )

    async def list(
        self,
        *,
        offset: int = 0,
        limit: int = 100,
        action: str | None = None,
        actor_id: str | None = None,
    ) -> list[AuditEvent]:
        c = audit_events.c
        query = select(audit_events).order_by(c.at.desc(), c.id.desc()).offset(offset).limit(limit)
        if action is not None:
            query = query.where(
                c.action.startswith(action, autoescape=True)
                if action.endswith(".")
                else c.action == action
            )
        if actor_id is not None:
            query = query.where(c.actor_id == actor_id)
        return [_event(row) for row in (await self._session.execute(query)).mappings()]


def _event(row: RowMapping) -> AuditEvent:
    c = audit_events.c
    details: dict[str, Any] = json.loads(row[c.details])
    return AuditEvent(
        id=row[c.id],
        at=row[c.at],
        action=row[c.action],
        actor_id=row[c.actor_id],
        target=row[c.target],
        ip=row[c.ip],
        details=MappingProxyType({k: str(v) for k, v in details.items()}),
    )
