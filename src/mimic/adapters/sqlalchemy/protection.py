"""The position monitor's view of order_intents (see ports.protection)."""

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import and_, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mimic.adapters.sqlalchemy.order_intents import _intent, _intent_values
from mimic.adapters.sqlalchemy.statements import _chunks, _insert
from mimic.adapters.sqlalchemy.tables import order_intents
from mimic.domain.orders import IntentStatus, OrderIntent, OrderLeg
from mimic.ports.protection import PositionIntentRepository


class SqlPositionIntentRepository(PositionIntentRepository):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def latest_entries(self, account_ids: Collection[str]) -> list[OrderIntent]:
        c = order_intents.c
        found: list[OrderIntent] = []
        for chunk in _chunks(sorted(set(account_ids))):
            filled_entries = and_(
                c.account_id.in_(chunk),
                c.leg == OrderLeg.ENTRY.value,
                c.status == IntentStatus.FILLED.value,
            )
            latest = (
                select(c.account_id, c.symbol, func.max(c.created_at).label("at"))
                .where(filled_entries)
                .group_by(c.account_id, c.symbol)
                .subquery()
            )
            statement = (
                select(order_intents)
                .join(
                    latest,
                    and_(
                        c.account_id == latest.c.account_id,
                        c.symbol == latest.c.symbol,
                        c.created_at == latest.c.at,
                    ),
                )
                .where(filled_entries)
                .order_by(c.account_id, c.symbol)
            )
            found += [_intent(row) for row in (await self._session.execute(statement)).mappings()]
        return found

    async def latest_entries_of(self, positions: Collection[tuple[str, str]]) -> list[OrderIntent]:
        c = order_intents.c
        found: list[OrderIntent] = []
        for account_id, symbol in sorted(set(positions)):
            # Walks ix_order_intents_account_symbol_created back from the newest order.
            statement = (
                select(order_intents)
                .where(
                    c.account_id == account_id,
                    c.symbol == symbol,
                    c.leg == OrderLeg.ENTRY.value,
                    c.status == IntentStatus.FILLED.value,
                )
                .order_by(c.created_at.desc(), c.id.desc())
                .limit(1)
            )
            row = (await self._session.execute(statement)).mappings().first()
            if row is not None:
                found.append(_intent(row))
        return found

    async def children(self, parent_ids: Collection[str]) -> list[OrderIntent]:
        c = order_intents.c
        found: list[OrderIntent] = []
        for chunk in _chunks(sorted(set(parent_ids))):
            statement = (
                select(order_intents).where(c.parent_id.in_(chunk)).order_by(c.created_at, c.id)
            )
            found += [_intent(row) for row in (await self._session.execute(statement)).mappings()]
        return found

    async def add_if_absent(self, intent: OrderIntent, *, lease_until: datetime | None) -> bool:
        c = order_intents.c
        held = lease_until if intent.status is IntentStatus.SUBMITTING else None
        statement = (
            _insert(self._session, order_intents)
            .values(**_intent_values(intent, held))
            .on_conflict_do_nothing(index_elements=[c.id])
            .returning(c.id)
        )
        return (await self._session.execute(statement)).scalar_one_or_none() is not None

    async def add_many_if_absent(self, intents: Sequence[OrderIntent]) -> set[str]:
        c = order_intents.c
        statement = (
            _insert(self._session, order_intents)
            .on_conflict_do_nothing(index_elements=[c.id])
            .returning(c.id)
        )
        inserted: set[str] = set()
        for chunk in _chunks(intents):
            rows = [_intent_values(intent, None) for intent in chunk]
            inserted.update((await self._session.execute(statement, rows)).scalars())
        return inserted

    async def has_exchange_order(self, account_id: str, exchange_order_id: str) -> bool:
        c = order_intents.c
        statement = (
            select(c.id)
            .where(c.account_id == account_id, c.exchange_order_id == exchange_order_id)
            .limit(1)
        )
        return (await self._session.execute(statement)).first() is not None

    async def save_protection(self, entries: Sequence[OrderIntent]) -> None:
        if not entries:
            return
        c = order_intents.c
        await self._session.execute(
            update(order_intents).where(c.id == bindparam("b_id")),
            [
                {
                    "b_id": entry.id,
                    "stop_loss_price": entry.stop_loss_price,
                    "take_profit_price": entry.take_profit_price,
                    "protection_error": entry.protection_error,
                }
                for entry in entries
            ],
        )
