"""Copy fidelity of a period, read over signals and their intents.

On Postgres the database computes everything (domain.fidelity's formulas: nearest-rank
percentiles are `percentile_disc`, slippage is rounded per copy as the domain rounds it),
one row per follower and one for the platform (ROLLUP). SQLite has no percentiles: each
copy's latency comes back as a float of milliseconds and its prices as stored (text,
skipping the decimal column type's per-value conversion), and the domain sums them up.
"""

from collections.abc import Collection
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Numeric,
    Text,
    case,
    extract,
    func,
    select,
    type_coerce,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from mimic.adapters.sqlalchemy.statements import _chunks, _dialect
from mimic.adapters.sqlalchemy.tables import order_intents, signals, users
from mimic.domain.fidelity import (
    BPS,
    NO_COPIES,
    CopySample,
    CopyStats,
    OutcomeCount,
    StatsByFollower,
    in_bps,
    slippage_bps,
    stats_by_follower,
    whole_ms,
)
from mimic.domain.orders import IntentStatus, OrderSide
from mimic.ports.fidelity import FidelityReader

# SQLite keeps timestamps as text; julianday() reads them as fractional days.
MS_PER_DAY = 86_400_000.0


# The percentiles of domain.fidelity, as fractions.
LATENCY_SHARES = postgresql.array([0.5, 0.95, 0.99])


def _raw(column: Any) -> ColumnElement[Any]:
    """The column's value as the driver returns it, without the column type's conversion."""
    return type_coerce(column, Text)


def _numeric(column: Any) -> ColumnElement[Decimal]:
    """An `ExactDecimal` column as the NUMERIC it is on Postgres (no CAST in the SQL)."""
    return type_coerce(column, Numeric(38, 18))


class SqlFidelityReader(FidelityReader):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def _of_period(self, since: datetime, source_id: str | None) -> list[ColumnElement[bool]]:
        conditions = [signals.c.received_at >= since, order_intents.c.signal_id == signals.c.id]
        if source_id is not None:
            conditions.append(signals.c.source_id == source_id)
        return conditions

    async def copy_stats_since(self, since: datetime, *, source_id: str | None) -> StatsByFollower:
        if _dialect(self._session).name == "postgresql":
            return await self._computed_by_postgres(since, source_id)
        return stats_by_follower(await self._samples(since, source_id))

    async def _samples(self, since: datetime, source_id: str | None) -> list[CopySample]:
        i, s = order_intents.c, signals.c
        latency = type_coerce(
            (func.julianday(i.acknowledged_at) - func.julianday(s.received_at)) * MS_PER_DAY, Float
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

    async def _computed_by_postgres(
        self, since: datetime, source_id: str | None
    ) -> StatsByFollower:
        i, s = order_intents.c, signals.c
        # NUMERIC on Postgres: the arithmetic is NUMERIC's, not the text-backed column type's.
        price, reference = _numeric(i.average_price), _numeric(s.reference_price)
        moved = case(
            (i.side == OrderSide.BUY.value, price - reference),
            else_=reference - price,
        )
        copies = (
            select(
                i.user_id.label("user_id"),
                (extract("epoch", i.acknowledged_at - s.received_at) * 1000).label("latency"),
                case(
                    (reference > 0, func.round(moved / reference * BPS, 2)),
                ).label("slippage"),
            )
            .where(*self._of_period(since, source_id), i.status == IntentStatus.FILLED.value)
            .subquery()
        )
        c = copies.c
        statement = select(
            c.user_id,
            func.count(),
            func.percentile_disc(LATENCY_SHARES).within_group(c.latency),
            type_coerce(func.avg(c.slippage), Numeric),
            type_coerce(func.percentile_disc(0.95).within_group(c.slippage), Numeric),
        ).group_by(func.rollup(c.user_id))
        platform, followers = NO_COPIES, {}
        for user_id, count, latencies, mean, p95 in await self._session.execute(statement):
            p50_ms, p95_ms, p99_ms = latencies or (None, None, None)
            stats = CopyStats(
                copies=count,
                latency_p50_ms=whole_ms(p50_ms),
                latency_p95_ms=whole_ms(p95_ms),
                latency_p99_ms=whole_ms(p99_ms),
                slippage_mean_bps=in_bps(mean),
                slippage_p95_bps=in_bps(p95),
            )
            if user_id is None:  # the ROLLUP's grand total: every intent has a user
                platform = stats
            else:
                followers[user_id] = stats
        return StatsByFollower(platform=platform, followers=followers)

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
