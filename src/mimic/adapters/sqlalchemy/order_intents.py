"""The order intent repository on SQLAlchemy Core.

Claims are safe under concurrency by a compare-and-set UPDATE, and new intents by a unique
constraint, not by a prior read.
"""

from collections.abc import Collection, Sequence
from datetime import datetime
from operator import attrgetter
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mimic.adapters.sqlalchemy.bulk import insert_columns, one_of, update_columns
from mimic.adapters.sqlalchemy.history import history_filters
from mimic.adapters.sqlalchemy.statements import _chunks, _dialect, _in_part
from mimic.adapters.sqlalchemy.tables import NamedRow, order_intents
from mimic.domain.fanout import FanoutPart
from mimic.domain.orders import (
    NO_FILTERS,
    IntentStatus,
    OrderFilters,
    OrderIntent,
    OrderLeg,
    OrderSide,
)
from mimic.ports.repositories import OrderIntentRepository

# The columns written as the intent holds them (its enums, and the lease, apart).
_AS_HELD = (
    "id",
    "signal_id",
    "account_id",
    "user_id",
    "symbol",
    "quantity",
    "reduce_only",
    "leverage",
    "client_order_id",
    "reason",
    "attempts",
    "exchange_order_id",
    "filled_quantity",
    "average_price",
    "fee",
    "created_at",
    "updated_at",
    "parent_id",
    "tp_perc",
    "sl_perc",
    "stop_loss_price",
    "take_profit_price",
    "protection_error",
    "acknowledged_at",
)
# What save_results writes besides the status, keyed by id and attempts (the claim).
_RESULT_AS_HELD = (
    "id",
    "attempts",
    "reason",
    "exchange_order_id",
    "filled_quantity",
    "average_price",
    "fee",
    "updated_at",
    "stop_loss_price",
    "take_profit_price",
    "protection_error",
    "acknowledged_at",
)
_READ = {name: attrgetter(name) for name in _AS_HELD}


def _intent_values(intent: OrderIntent, lease_until: datetime | None) -> dict[str, Any]:
    values = {name: read(intent) for name, read in _READ.items()}
    values.update(
        leg=intent.leg.value,
        side=intent.side.value,
        status=intent.status.value,
        lease_until=lease_until,
    )
    return values


def _new_intent_columns(
    intents: Sequence[OrderIntent], lease_until: datetime | None
) -> dict[str, list[Any]]:
    """`_intent_values` of each intent, a column at a time (a fan-out stores thousands): an
    intent held for sending gets `lease_until`."""
    columns = {name: list(map(read, intents)) for name, read in _READ.items()}
    columns["leg"] = [i.leg.value for i in intents]
    columns["side"] = [i.side.value for i in intents]
    columns["status"] = [i.status.value for i in intents]
    held = IntentStatus.SUBMITTING
    columns["lease_until"] = [lease_until if i.status is held else None for i in intents]
    return columns


def _result_columns(intents: Sequence[OrderIntent]) -> dict[str, list[Any]]:
    columns = {name: list(map(_READ[name], intents)) for name in _RESULT_AS_HELD}
    columns["status"] = [i.status.value for i in intents]
    return columns


def _intent(row: NamedRow) -> OrderIntent:
    return OrderIntent(
        id=row["id"],
        signal_id=row["signal_id"],
        account_id=row["account_id"],
        user_id=row["user_id"],
        leg=OrderLeg(row["leg"]),
        symbol=row["symbol"],
        side=OrderSide(row["side"]),
        quantity=row["quantity"],
        reduce_only=row["reduce_only"],
        leverage=row["leverage"],
        client_order_id=row["client_order_id"],
        created_at=row["created_at"],
        status=IntentStatus(row["status"]),
        reason=row["reason"],
        attempts=row["attempts"],
        exchange_order_id=row["exchange_order_id"],
        filled_quantity=row["filled_quantity"],
        average_price=row["average_price"],
        fee=row["fee"],
        updated_at=row["updated_at"],
        parent_id=row["parent_id"],
        tp_perc=row["tp_perc"],
        sl_perc=row["sl_perc"],
        stop_loss_price=row["stop_loss_price"],
        take_profit_price=row["take_profit_price"],
        protection_error=row["protection_error"],
        acknowledged_at=row["acknowledged_at"],
    )


class SqlOrderIntentRepository(OrderIntentRepository):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add_new(
        self, intents: Sequence[OrderIntent], *, lease_until: datetime | None = None
    ) -> set[str]:
        c = order_intents.c
        inserted = await insert_columns(
            self._session,
            order_intents,
            _new_intent_columns(intents, lease_until),
            on_conflict=[c.signal_id, c.account_id, c.leg],
            returning=c.id,
        )
        return set(inserted)

    async def list_for_signal(
        self, signal_id: str, *, part: FanoutPart | None = None
    ) -> list[OrderIntent]:
        c = order_intents.c
        statement = select(order_intents).where(c.signal_id == signal_id)
        if part is not None:
            statement = statement.where(*_in_part(c.account_id, part))
        return await self._select(statement.order_by(c.created_at, c.id))

    async def has_unsettled(self, signal_id: str, *, part: FanoutPart) -> bool:
        c = order_intents.c
        unsettled = [status.value for status in IntentStatus if not status.is_final]
        statement = select(c.id).where(
            c.signal_id == signal_id, *_in_part(c.account_id, part), c.status.in_(unsettled)
        )
        return (await self._session.execute(statement.limit(1))).first() is not None

    async def signals_in_hand(self, signal_ids: Collection[str], *, now: datetime) -> set[str]:
        c = order_intents.c
        held: set[str] = set()
        for chunk in _chunks(list(signal_ids)):
            statement = select(c.signal_id).where(c.signal_id.in_(chunk), c.lease_until > now)
            held.update(await self._session.scalars(statement.distinct()))
        return held

    async def list_for_user(
        self, user_id: str, *, limit: int, filters: OrderFilters = NO_FILTERS
    ) -> list[OrderIntent]:
        c = order_intents.c
        return await self._select(
            select(order_intents)
            .where(c.user_id == user_id, *history_filters(c, filters))
            .order_by(c.created_at.desc(), c.id.desc())
            .limit(limit)
        )

    async def claim(
        self, intent_ids: Sequence[str], *, now: datetime, lease_until: datetime
    ) -> list[OrderIntent]:
        c = order_intents.c
        returning = _dialect(self._session).update_returning
        claimed: list[OrderIntent] = []
        for chunk in _chunks(list(dict.fromkeys(intent_ids))):
            # Compare-and-set: of concurrent claimers only one sees its WHERE still true.
            claim = (
                update(order_intents)
                .where(
                    one_of(_dialect(self._session), c.id, chunk),
                    or_(
                        c.status == IntentStatus.PENDING.value,
                        and_(
                            c.status == IntentStatus.SUBMITTING.value,
                            or_(c.lease_until.is_(None), c.lease_until < now),
                        ),
                    ),
                )
                .values(
                    status=IntentStatus.SUBMITTING.value,
                    attempts=c.attempts + 1,
                    lease_until=lease_until,
                )
            )
            if returning:
                claimed += await self._select(claim.returning(*order_intents.c))
            else:  # SQLite before 3.35: the write lock is ours until commit, read it back
                await self._session.execute(claim)
                claimed += await self._select(
                    select(order_intents).where(
                        c.id.in_(chunk),
                        c.status == IntentStatus.SUBMITTING.value,
                        c.lease_until == lease_until,
                    )
                )
        position = {intent_id: n for n, intent_id in enumerate(intent_ids)}
        return sorted(claimed, key=lambda intent: position[intent.id])

    async def save_results(self, intents: Sequence[OrderIntent]) -> None:
        final = [i for i in intents if i.status.is_final]
        unsettled = [i for i in intents if not i.status.is_final]
        # A settled intent holds no lease; an unsettled one keeps its lease until it runs out.
        await update_columns(
            self._session,
            order_intents,
            _result_columns(final),
            key=["id", "attempts"],
            also={"lease_until": None},
        )
        await update_columns(
            self._session, order_intents, _result_columns(unsettled), key=["id", "attempts"]
        )

    async def _select(self, statement: Any) -> list[OrderIntent]:
        return [_intent(row) for row in (await self._session.execute(statement)).mappings()]
