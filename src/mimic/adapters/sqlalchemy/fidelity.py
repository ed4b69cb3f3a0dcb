"""Copy fidelity of a period, read in two statements over signals and their intents.

Latency is computed by the database (a difference of two timestamps, as a float of
milliseconds); prices come back as stored (text on SQLite, numeric on Postgres), skipping
the per-value conversion of the decimal column type: a month holds 100,000s of copies.
Slippage is the domain's formula over those prices.
"""

from collections.abc import Collection
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Float, Text, extract, func, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

from mimic.adapters.sqlalchemy.repositories import _chunks, _dialect
from mimic.adapters.sqlalchemy.tables import order_intents, signals, users
from mimic.domain.fidelity import CopySample, OutcomeCount, slippage_bps
from mimic.domain.orders import IntentStatus, OrderSide
from mimic.ports.fidelity import FidelityReader

MS_PER_DAY = 86_400_000.0


def _milliseconds_between(dialect: str, start: Any, end: Any) -> ColumnElement[float]:
    if dialect == "postgresql":
        return type_coerce(extract("epoch", end - start) * 1000, Float)
    # SQLite keeps timestamps as text; julianday() reads them as fractional days.
    return type_coerce((func.julianday(end) - func.julianday(start)) * MS_PER_DAY, Float)


def _raw(column: Any) -> ColumnElement[Any]:
    """The column's value as the driver returns it, without the column type's conversion."""
    return type_coerce(column, Text)


class SqlFidelityReader(FidelityReader):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def _of_period(self, since: datetime, source_id: str | None) -> list[ColumnElement[bool]]:
        conditions = [signals.c.received_at >= since, order_intents.c.signal_id == signals.c.id]
        if source_id is not None:
            conditions.append(signals.c.source_id == source_id)
        return conditions

    async def copies_since(self, since: datetime, *, source_id: str | None) -> list[CopySample]:
        i, s = order_intents.c, signals.c
        latency = _milliseconds_between(
            _dialect(self._session).name, s.received_at, i.acknowledged_at
        )
        statement = select(
            i.user_id, latency, i.side, _raw(s.reference_price), _raw(i.average_price)
        ).where(*self._of_period(since, source_id), i.status == IntentStatus.FILLED.value)
        samples = []
        for user_id, milliseconds, side, reference, fill in await self._session.execute(statement):
            slippage = None
            if reference is not None and fill is not None and Decimal(reference) > 0:
                slippage = slippage_bps(OrderSide(side), Decimal(reference), Decimal(fill))
            samples.append(CopySample(user_id, milliseconds, slippage))
        return samples

    async def misses_since(self, since: datetime, *, source_id: str | None) -> list[OutcomeCount]:
        i = order_intents.c
        statement = (
            select(i.user_id, i.status, i.reason, func.count())
            .where(
                *self._of_period(since, source_id),
                i.status.in_([IntentStatus.SKIPPED.value, IntentStatus.REJECTED.value]),
            )
            .group_by(i.user_id, i.status, i.reason)
        )
        return [
            OutcomeCount(user_id, IntentStatus(status), reason, count)
            for user_id, status, reason, count in await self._session.execute(statement)
        ]

    async def usernames(self, user_ids: Collection[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for chunk in _chunks(sorted(set(user_ids))):
            rows = await self._session.execute(
                select(users.c.id, users.c.username).where(users.c.id.in_(chunk))
            )
            found.update((row.id, row.username) for row in rows)
        return found
