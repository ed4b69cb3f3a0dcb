"""The panic switch's memory, runs and closes on SQLAlchemy Core."""

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import RowMapping, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mimic.adapters.sqlalchemy.closes import close_intent
from mimic.adapters.sqlalchemy.history import history_filters
from mimic.adapters.sqlalchemy.statements import _chunks, _insert
from mimic.adapters.sqlalchemy.tables import panic_closes, panic_guard, panic_runs
from mimic.domain.orders import NO_FILTERS, OrderFilters, OrderIntent
from mimic.domain.panic import AccountOutcome, PanicGuardState, PanicRun, PanicStatus
from mimic.ports.panic import PanicCloseRepository, PanicGuardStore, PanicRunRepository

GUARD_ROW = 1


class SqlPanicGuardStore(PanicGuardStore):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def load(self) -> PanicGuardState:
        c = panic_guard.c
        row = (
            (await self._session.execute(select(panic_guard).where(c.id == GUARD_ROW)))
            .mappings()
            .first()
        )
        if row is None:
            return PanicGuardState()
        return PanicGuardState(
            last_step=row[c.last_step],
            failures=row[c.failures],
            locked_until=row[c.locked_until],
            confirmed=row[c.confirmed],
        )

    async def save(self, state: PanicGuardState, *, expected_last_step: int) -> bool:
        c = panic_guard.c
        values = {
            "last_step": state.last_step,
            "failures": state.failures,
            "locked_until": state.locked_until,
            "confirmed": state.confirmed,
        }
        await self._session.execute(
            _insert(self._session, panic_guard)
            .values(id=GUARD_ROW, last_step=-1, failures=0, confirmed=False)
            .on_conflict_do_nothing(index_elements=[c.id])
        )
        # Compare-and-set on the last accepted step: two requests with one code, one wins.
        result = await self._session.execute(
            update(panic_guard)
            .where(c.id == GUARD_ROW, c.last_step == expected_last_step)
            .values(**values)
        )
        return bool(getattr(result, "rowcount", 0))


def _outcome_values(outcome: AccountOutcome) -> dict[str, Any]:
    return {
        "account_id": outcome.account_id,
        "user_id": outcome.user_id,
        "exchange": outcome.exchange,
        "closed": outcome.closed,
        "failed": outcome.failed,
        "pending": outcome.pending,
        "error": outcome.error,
    }


class SqlPanicRunRepository(PanicRunRepository):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    @staticmethod
    def _values(run: PanicRun) -> dict[str, Any]:
        return {
            "actor_id": run.actor_id,
            "started_at": run.started_at,
            "status": run.status.value,
            "accounts": json.dumps([_outcome_values(a) for a in run.accounts]),
            "finished_at": run.finished_at,
        }

    async def add(self, run: PanicRun) -> None:
        await self._session.execute(panic_runs.insert().values(id=run.id, **self._values(run)))

    async def save(self, run: PanicRun) -> None:
        await self._session.execute(
            update(panic_runs).where(panic_runs.c.id == run.id).values(**self._values(run))
        )

    async def get(self, run_id: str) -> PanicRun | None:
        c = panic_runs.c
        row = (
            (await self._session.execute(select(panic_runs).where(c.id == run_id)))
            .mappings()
            .first()
        )
        if row is None:
            return None
        return PanicRun(
            id=row[c.id],
            actor_id=row[c.actor_id],
            started_at=row[c.started_at],
            status=PanicStatus(row[c.status]),
            accounts=[AccountOutcome(**item) for item in json.loads(row[c.accounts])],
            finished_at=row[c.finished_at],
        )


def _close(row: RowMapping) -> OrderIntent:
    return close_intent(row, f"panic:{row[panic_closes.c.run_id]}")


class SqlPanicCloseRepository(PanicCloseRepository):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add_new(self, closes: Sequence[OrderIntent], *, run_id: str) -> None:
        for chunk in _chunks(closes):
            await self._session.execute(
                _insert(self._session, panic_closes).on_conflict_do_nothing(
                    index_elements=[
                        panic_closes.c.run_id,
                        panic_closes.c.account_id,
                        panic_closes.c.symbol,
                    ]
                ),
                [
                    {
                        "id": i.id,
                        "run_id": run_id,
                        "account_id": i.account_id,
                        "user_id": i.user_id,
                        "symbol": i.symbol,
                        "side": i.side.value,
                        "quantity": i.quantity,
                        "client_order_id": i.client_order_id,
                        "status": i.status.value,
                        "reason": i.reason,
                        "attempts": i.attempts,
                        "created_at": i.created_at,
                        "updated_at": i.updated_at,
                    }
                    for i in chunk
                ],
            )

    async def save_results(self, closes: Sequence[OrderIntent], *, run_id: str) -> None:
        c = panic_closes.c
        statement = (
            update(panic_closes)
            .where(c.id == bindparam("p_id"))
            .values(
                status=bindparam("p_status"),
                reason=bindparam("p_reason"),
                attempts=bindparam("p_attempts"),
                exchange_order_id=bindparam("p_exchange_order_id"),
                filled_quantity=bindparam("p_filled_quantity", type_=c.filled_quantity.type),
                average_price=bindparam("p_average_price", type_=c.average_price.type),
                fee=bindparam("p_fee", type_=c.fee.type),
                updated_at=bindparam("p_updated_at", type_=c.updated_at.type),
            )
        )
        for chunk in _chunks(closes):
            await self._session.execute(
                statement,
                [
                    {
                        "p_id": i.id,
                        "p_status": i.status.value,
                        "p_reason": i.reason,
                        "p_attempts": i.attempts,
                        "p_exchange_order_id": i.exchange_order_id,
                        "p_filled_quantity": i.filled_quantity,
                        "p_average_price": i.average_price,
                        "p_fee": i.fee,
                        "p_updated_at": i.updated_at,
                    }
                    for i in chunk
                ],
            )

    async def list_for_user(
        self, user_id: str, *, limit: int, filters: OrderFilters = NO_FILTERS
    ) -> list[OrderIntent]:
        c = panic_closes.c
        rows = await self._session.execute(
            select(panic_closes)
            .where(c.user_id == user_id, *history_filters(c, filters))
            .order_by(c.created_at.desc(), c.id.desc())
            .limit(limit)
        )
        return [_close(row) for row in rows.mappings()]
