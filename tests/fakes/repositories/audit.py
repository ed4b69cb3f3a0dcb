"""In-memory AuditLog."""

import builtins

from mimic.domain.audit import AuditEvent
from mimic.ports.repositories import (
    AuditLog,
)


class InMemoryAuditLog(AuditLog):
    def __init__(self) -> None:
        self._events: builtins.list[AuditEvent] = []

    async def record(self, event: AuditEvent) -> None:
        self._events.append(event)

    async def list(
        self,
        *,
        offset: int = 0,
        limit: int = 100,
        action: str | None = None,
        actor_id: str | None = None,
    ) -> builtins.list[AuditEvent]:
        def wanted(event: AuditEvent) -> bool:
            if action is not None and not (
                event.action.startswith(action) if action.endswith(".") else event.action == action
            ):
                return False
            return actor_id is None or event.actor_id == actor_id

        newest_first = sorted(self._events, key=lambda e: (e.at, e.id), reverse=True)
        return [e for e in newest_first if wanted(e)][offset : offset + limit]
