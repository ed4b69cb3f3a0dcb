"""Repositories of daily guardrails, their close-all orders, fills and balance snapshots."""

from collections import defaultdict
from collections.abc import Collection, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import RowMapping, and_, func, or_, select, union, update
from sqlalchemy.ext.asyncio import AsyncSession

from mimic.adapters.sqlalchemy.bulk import Columns, insert_columns
from mimic.adapters.sqlalchemy.closes import close_intent
from mimic.adapters.sqlalchemy.statements import _chunks, _insert
from mimic.adapters.sqlalchemy.tables import (
    account_fills,
    balance_snapshots,
    fill_read_marks,
    guardrail_closes,
    guardrail_days,
    order_intents,
    signals,
)
from mimic.domain.guardrails import GuardrailDay, Trip, TripKind, guardrail_trip_key
from mimic.domain.orders import IntentStatus, OrderIntent, OrderSide
from mimic.domain.performance import AccountFill, BalanceSnapshot
from mimic.ports.performance import (
    BalanceSnapshotRepository,
    FillRepository,
    GuardrailRepository,
)


def _day(row: RowMapping) -> GuardrailDay:
    c = guardrail_days.c
    trip = None
    if row[c.trip_kind] is not None:
        trip = Trip(TripKind(row[c.trip_kind]), row[c.trip_reason], row[c.tripped_at])
    return GuardrailDay(
        account_id=row[c.account_id],
        day=row[c.day],
        start_equity=row[c.start_equity],
        trip=trip,
    )


def _close(row: RowMapping) -> OrderIntent:
    return close_intent(row, guardrail_trip_key(row[guardrail_closes.c.day]))


class SqlGuardrailRepository(GuardrailRepository):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def days(self, account_ids: Collection[str], day: date) -> dict[str, GuardrailDay]:
        c = guardrail_days.c
        found: dict[str, GuardrailDay] = {}
        for chunk in _chunks(sorted(set(account_ids))):
            rows = await self._session.execute(
                select(guardrail_days).where(c.day == day, c.account_id.in_(chunk))
            )
            found.update((row[c.account_id], _day(row)) for row in rows.mappings())
        return found

    async def start_days(self, days: Sequence[tuple[str, GuardrailDay]]) -> None:
        c = guardrail_days.c
        statement = _insert(self._session, guardrail_days).on_conflict_do_nothing(
            index_elements=[c.account_id, c.day]
        )
        rows = [
            {
                "account_id": day.account_id,
                "day": day.day,
                "user_id": user_id,
                "start_equity": day.start_equity,
                "trip_kind": None,
                "trip_reason": None,
                "tripped_at": None,
                "close_all_pending": False,
            }
            for user_id, day in days
        ]
        for chunk in _chunks(rows):
            await self._session.execute(statement, list(chunk))

    async def record_trip(self, user_id: str, day: GuardrailDay, *, close_all: bool) -> bool:
        if day.trip is None:
            raise ValueError("record_trip needs a tripped day")
        c = guardrail_days.c
        # Compare-and-set: of two observers only one finds the trip still empty.
        result = await self._session.execute(
            update(guardrail_days)
            .where(c.account_id == day.account_id, c.day == day.day, c.trip_kind.is_(None))
            .values(
                trip_kind=day.trip.kind.value,
                trip_reason=day.trip.reason,
                tripped_at=day.trip.at,
                close_all_pending=close_all,
            )
        )
        return bool(getattr(result, "rowcount", 0))

    async def pending_close_all(self) -> list[tuple[str, GuardrailDay]]:
        c = guardrail_days.c
        rows = await self._session.execute(
            select(guardrail_days)
            .where(c.close_all_pending.is_(True))
            .order_by(c.day, c.account_id)
        )
        return [(row[c.user_id], _day(row)) for row in rows.mappings()]

    async def plan_closes(self, account_id: str, day: date, closes: Sequence[OrderIntent]) -> None:
        c = guardrail_closes.c
        if closes:
            statement = _insert(self._session, guardrail_closes).on_conflict_do_nothing(
                index_elements=[c.account_id, c.day, c.symbol]
            )
            await self._session.execute(
                statement,
                [
                    {
                        "id": close.id,
                        "account_id": close.account_id,
                        "user_id": close.user_id,
                        "day": day,
                        "symbol": close.symbol,
                        "side": close.side.value,
                        "quantity": close.quantity,
                        "client_order_id": close.client_order_id,
                        "status": close.status.value,
                        "reason": close.reason,
                        "attempts": close.attempts,
                        "lease_until": None,
                        "exchange_order_id": None,
                        "filled_quantity": None,
                        "average_price": None,
                        "fee": None,
                        "created_at": close.created_at,
                        "updated_at": close.updated_at,
                    }
                    for close in closes
                ],
            )
        d = guardrail_days.c
        await self._session.execute(
            update(guardrail_days)
            .where(d.account_id == account_id, d.day == day)
            .values(close_all_pending=False)
        )

    async def claim_closes(self, *, now: datetime, lease_until: datetime) -> list[OrderIntent]:
        c = guardrail_closes.c
        claimable = or_(
            c.status == IntentStatus.PENDING.value,
            and_(
                c.status == IntentStatus.SUBMITTING.value,
                or_(c.lease_until.is_(None), c.lease_until < now),
            ),
        )
        ids = list(
            (await self._session.execute(select(c.id).where(claimable).order_by(c.id))).scalars()
        )
        claimed: list[OrderIntent] = []
        for intent_id in ids:
            # Compare-and-set per row: a concurrent claimer of the same row gets nothing.
            result = await self._session.execute(
                update(guardrail_closes)
                .where(c.id == intent_id, claimable)
                .values(
                    status=IntentStatus.SUBMITTING.value,
                    attempts=c.attempts + 1,
                    lease_until=lease_until,
                )
            )
            if getattr(result, "rowcount", 0):
                row = (
                    (await self._session.execute(select(guardrail_closes).where(c.id == intent_id)))
                    .mappings()
                    .one()
                )
                claimed.append(_close(row))
        return claimed

    async def save_closes(self, closes: Sequence[OrderIntent]) -> None:
        c = guardrail_closes.c
        for close in closes:
            values: dict[str, Any] = {
                "status": close.status.value,
                "reason": close.reason,
                "exchange_order_id": close.exchange_order_id,
                "filled_quantity": close.filled_quantity,
                "average_price": close.average_price,
                "fee": close.fee,
                "updated_at": close.updated_at,
            }
            if close.status.is_final:
                values["lease_until"] = None
            await self._session.execute(
                update(guardrail_closes).where(c.id == close.id).values(values)
            )

    async def closes_for_user(self, user_id: str, *, limit: int) -> list[OrderIntent]:
        c = guardrail_closes.c
        rows = await self._session.execute(
            select(guardrail_closes)
            .where(c.user_id == user_id)
            .order_by(c.created_at.desc(), c.id.desc())
            .limit(limit)
        )
        return [_close(row) for row in rows.mappings()]


def _fill(row: RowMapping, source_id: str | None) -> AccountFill:
    c = account_fills.c
    return AccountFill(
        fill_id=row[c.fill_id],
        symbol=row[c.symbol],
        side=OrderSide(row[c.side]),
        quantity=row[c.quantity],
        price=row[c.price],
        fee=row[c.fee],
        realized_pnl=row[c.realized_pnl],
        executed_at=row[c.executed_at],
        order_id=row[c.order_id],
        source_id=source_id,
    )


class SqlFillRepository(FillRepository):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add_new(self, fills: Sequence[tuple[str, str, AccountFill]]) -> int:
        """One statement on Postgres (bulk.insert_columns: `unnest`, of one text however
        many fills) for a stream recorder's batch of a fan-out's fills, built column by
        column; the fill ids it returns are only counted."""
        c = account_fills.c
        columns: Columns = {
            "account_id": [account_id for account_id, _, _ in fills],
            "fill_id": [f.fill_id for _, _, f in fills],
            "user_id": [user_id for _, user_id, _ in fills],
            "symbol": [f.symbol for _, _, f in fills],
            "side": [f.side.value for _, _, f in fills],
            "quantity": [f.quantity for _, _, f in fills],
            "price": [f.price for _, _, f in fills],
            "fee": [f.fee for _, _, f in fills],
            "realized_pnl": [f.realized_pnl for _, _, f in fills],
            "executed_at": [f.executed_at for _, _, f in fills],
            "order_id": [f.order_id for _, _, f in fills],
        }
        added = await insert_columns(
            self._session,
            account_fills,
            columns,
            on_conflict=[c.account_id, c.fill_id],
            returning=c.fill_id,
        )
        return len(added)

    async def read_marks(self, account_ids: Collection[str]) -> dict[str, datetime]:
        c = fill_read_marks.c
        found: dict[str, datetime] = {}
        for chunk in _chunks(sorted(set(account_ids))):
            rows = await self._session.execute(
                select(c.account_id, c.read_until).where(c.account_id.in_(chunk))
            )
            found.update((account_id, read_until) for account_id, read_until in rows)
        return found

    async def set_read_marks(self, marks: Sequence[tuple[str, datetime]]) -> None:
        c = fill_read_marks.c
        insert = _insert(self._session, fill_read_marks)
        statement = insert.on_conflict_do_update(
            index_elements=[c.account_id], set_={"read_until": insert.excluded.read_until}
        )
        for chunk in _chunks(marks):
            await self._session.execute(
                statement, [{"account_id": a, "read_until": until} for a, until in chunk]
            )

    async def latest_order_fill(self, account_ids: Collection[str]) -> dict[str, datetime]:
        found: dict[str, datetime] = {}
        for chunk in _chunks(sorted(set(account_ids))):
            for table in (order_intents, guardrail_closes):
                c = table.c
                rows = await self._session.execute(
                    select(c.account_id, func.max(c.updated_at))
                    .where(c.account_id.in_(chunk), c.status == IntentStatus.FILLED.value)
                    .group_by(c.account_id)
                )
                for account_id, latest in rows:
                    found[account_id] = max(found.get(account_id, latest), latest)
        return found

    async def traded_symbols(self, account_ids: Collection[str]) -> dict[str, set[str]]:
        found: dict[str, set[str]] = defaultdict(set)
        for chunk in _chunks(sorted(set(account_ids))):
            statement = union(
                *(
                    select(table.c.account_id, table.c.symbol).where(table.c.account_id.in_(chunk))
                    for table in (order_intents, account_fills, guardrail_closes)
                )
            )
            for account_id, symbol in await self._session.execute(statement):
                found[account_id].add(symbol)
        return dict(found)

    async def for_users(self, user_ids: Collection[str]) -> dict[str, dict[str, list[AccountFill]]]:
        c = account_fills.c
        found: dict[str, dict[str, list[AccountFill]]] = defaultdict(lambda: defaultdict(list))
        for chunk in _chunks(sorted(set(user_ids))):
            sources = _order_sources(chunk)
            rows = await self._session.execute(
                select(account_fills, sources.c.source_id)
                .outerjoin(
                    sources,
                    and_(
                        sources.c.account_id == c.account_id,
                        sources.c.exchange_order_id == c.order_id,
                    ),
                )
                .where(c.user_id.in_(chunk))
                .order_by(c.executed_at, c.fill_id)
            )
            for row in rows.mappings():
                fill = _fill(row, row[sources.c.source_id])
                found[row[c.user_id]][row[c.account_id]].append(fill)
        return {user: dict(accounts) for user, accounts in found.items()}

    async def count_for_user(self, user_id: str) -> int:
        c = account_fills.c
        count = await self._session.scalar(
            select(func.count()).select_from(account_fills).where(c.user_id == user_id)
        )
        return int(count or 0)


def _order_sources(user_ids: Sequence[str]) -> Any:
    """(account id, exchange order id, source id) of the users' orders placed for a signal.

    An exchange order id is one order of one account; grouped all the same so that a fill
    can never be read twice."""
    o = order_intents.c
    return (
        select(
            o.account_id,
            o.exchange_order_id,
            func.min(signals.c.source_id).label("source_id"),
        )
        .join(signals, signals.c.id == o.signal_id)
        .where(o.user_id.in_(user_ids), o.exchange_order_id.is_not(None))
        .group_by(o.account_id, o.exchange_order_id)
        .subquery("order_sources")
    )


def _snapshot(row: RowMapping) -> BalanceSnapshot:
    c = balance_snapshots.c
    return BalanceSnapshot(
        account_id=row[c.account_id],
        hour=row[c.hour],
        currency=row[c.currency],
        wallet_balance=row[c.wallet_balance],
        equity=row[c.equity],
        taken_at=row[c.taken_at],
    )


class SqlBalanceSnapshotRepository(BalanceSnapshotRepository):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add_new(self, snapshots: Sequence[tuple[str, BalanceSnapshot]]) -> int:
        c = balance_snapshots.c
        statement = (
            _insert(self._session, balance_snapshots)
            .on_conflict_do_nothing(index_elements=[c.account_id, c.hour])
            .returning(c.account_id)
        )
        added = 0
        for chunk in _chunks(snapshots):
            rows = [
                {
                    "account_id": s.account_id,
                    "hour": s.hour,
                    "user_id": user_id,
                    "currency": s.currency,
                    "wallet_balance": s.wallet_balance,
                    "equity": s.equity,
                    "taken_at": s.taken_at,
                }
                for user_id, s in chunk
            ]
            added += len(list((await self._session.execute(statement, rows)).scalars()))
        return added

    async def latest_hours(self, account_ids: Collection[str]) -> dict[str, datetime]:
        c = balance_snapshots.c
        found: dict[str, datetime] = {}
        for chunk in _chunks(sorted(set(account_ids))):
            rows = await self._session.execute(
                select(c.account_id, func.max(c.hour))
                .where(c.account_id.in_(chunk))
                .group_by(c.account_id)
            )
            found.update((account_id, latest) for account_id, latest in rows)
        return found

    async def history(
        self, account_ids: Collection[str], *, since: datetime | None, limit: int
    ) -> list[BalanceSnapshot]:
        c = balance_snapshots.c
        statement = select(balance_snapshots).where(c.account_id.in_(sorted(set(account_ids))))
        if since is not None:
            rows = await self._session.execute(
                statement.where(c.hour >= since).order_by(c.hour, c.account_id).limit(limit)
            )
            return [_snapshot(row) for row in rows.mappings()]
        rows = await self._session.execute(
            statement.order_by(c.hour.desc(), c.account_id.desc()).limit(limit)
        )
        return [_snapshot(row) for row in reversed(list(rows.mappings()))]

    async def for_users(
        self, user_ids: Collection[str], *, since: datetime | None
    ) -> dict[str, list[BalanceSnapshot]]:
        c = balance_snapshots.c
        found: dict[str, list[BalanceSnapshot]] = defaultdict(list)
        for chunk in _chunks(sorted(set(user_ids))):
            statement = select(balance_snapshots).where(c.user_id.in_(chunk))
            if since is not None:
                statement = statement.where(c.hour >= since)
            rows = await self._session.execute(statement.order_by(c.hour, c.account_id))
            for row in rows.mappings():
                found[row[c.user_id]].append(_snapshot(row))
        return dict(found)
