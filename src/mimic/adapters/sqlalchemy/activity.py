"""The admin overview's reads of recent activity, each served by an index (0016)."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from mimic.adapters.sqlalchemy.order_intents import _intent
from mimic.adapters.sqlalchemy.tables import (
    exchange_accounts,
    notification_outbox,
    order_intents,
    signals,
    users,
)
from mimic.domain.accounts import ConnectionStatus
from mimic.domain.activity import HOUR, CopyingCounts, FailedDelivery
from mimic.domain.orders import IntentStatus, OrderIntent
from mimic.ports.repositories import PlatformActivity


class SqlPlatformActivity(PlatformActivity):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def copying(self) -> CopyingCounts:
        a, u = exchange_accounts.c, users.c
        row = (
            await self._session.execute(
                select(func.count(func.distinct(a.user_id)), func.count(a.id))
                .select_from(exchange_accounts.join(users, u.id == a.user_id))
                .where(
                    a.status == ConnectionStatus.APPROVED.value,
                    a.enabled.is_(True),
                    u.active.is_(True),
                    u.paused.is_(False),
                    u.deleted_at.is_(None),
                )
            )
        ).one()
        return CopyingCounts(followers=int(row[0]), accounts=int(row[1]))

    async def signals_per_hour(self, hours: Sequence[datetime]) -> list[int]:
        if not hours:
            return []
        at = signals.c.received_at
        # One range scan of the received_at index, counted into every hour at once.
        per_hour = [
            func.coalesce(func.sum(case(((at >= h) & (at < h + HOUR), 1))), 0) for h in hours
        ]
        row = (
            await self._session.execute(
                select(*per_hour).where(at >= hours[0], at < hours[-1] + HOUR)
            )
        ).one()
        return [int(count) for count in row]

    async def rejected_orders(self, *, since: datetime, limit: int) -> list[OrderIntent]:
        c = order_intents.c
        rows = await self._session.execute(
            select(order_intents)
            .where(c.created_at >= since, c.status == IntentStatus.REJECTED.value)
            .order_by(c.created_at.desc(), c.id)
            .limit(limit)
        )
        return [_intent(row) for row in rows.mappings()]

    async def failed_deliveries(self, *, limit: int) -> list[FailedDelivery]:
        c = notification_outbox.c
        rows = await self._session.execute(
            select(c.id, c.user_id, c.event, c.attempts, c.last_error, c.created_at)
            .where(c.sent_at.is_(None), c.last_error.is_not(None))
            .order_by(c.created_at.desc(), c.id)
            .limit(limit)
        )
        return [
            FailedDelivery(
                row.id, row.user_id, row.event, row.attempts, row.last_error, row.created_at
            )
            for row in rows
        ]
