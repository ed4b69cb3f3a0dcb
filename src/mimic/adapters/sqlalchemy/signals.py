"""Signals and their sources: the webhook's writes and the order signals run in."""

from collections.abc import Collection
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    String,
    and_,
    bindparam,
    case,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from mimic.adapters.sqlalchemy.statements import _dialect
from mimic.adapters.sqlalchemy.tables import (
    NamedRow,
    master_accounts,
    master_cursors,
    signal_sources,
    signals,
    source_follows,
)
from mimic.domain.accounts import SignalSource, TradeDirection
from mimic.domain.fanout import FanoutPart
from mimic.domain.signal import (
    MirroredFill,
    Signal,
    SignalAction,
    SignalParams,
    SignalStatus,
    key_expires,
)
from mimic.ports.repositories import SignalRepository, SignalSourceRepository

# Statements of every webhook call, built once: building one per call (values, coercions,
# cache key) cost more than 0.2 ms of the intake's CPU per request.
_SOURCE_BY_HASH = select(signal_sources).where(
    signal_sources.c.passphrase_hash == bindparam("passphrase_hash")
)
_NEW_SIGNAL = {
    dialect: dialect_insert(signals)
    .on_conflict_do_nothing(index_elements=[signals.c.source_id, signals.c.dedupe_key])
    .returning(signals.c.id)
    for dialect, dialect_insert in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))
}


class SqlSignalSourceRepository(SignalSourceRepository):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, source: SignalSource) -> None:
        await self._session.execute(
            signal_sources.insert().values(
                id=source.id,
                name=source.name,
                passphrase_hash=source.passphrase_hash,
                active=source.active,
                direction=source.direction.value,
            )
        )

    async def get_by_passphrase_hash(self, passphrase_hash: str) -> SignalSource | None:
        result = await self._session.execute(_SOURCE_BY_HASH, {"passphrase_hash": passphrase_hash})
        row = result.mappings().first()
        return None if row is None else _source(row)

    async def count(self) -> int:
        statement = select(func.count()).select_from(signal_sources)
        return int((await self._session.execute(statement)).scalar_one())

    async def list_all(self) -> list[SignalSource]:
        statement = select(signal_sources).order_by(signal_sources.c.name, signal_sources.c.id)
        return [_source(row) for row in (await self._session.execute(statement)).mappings()]

    async def get(self, source_id: str) -> SignalSource | None:
        statement = select(signal_sources).where(signal_sources.c.id == source_id)
        row = (await self._session.execute(statement)).mappings().first()
        return None if row is None else _source(row)

    async def save(self, source: SignalSource) -> None:
        await self._session.execute(
            signal_sources.update()
            .where(signal_sources.c.id == source.id)
            .values(
                name=source.name,
                passphrase_hash=source.passphrase_hash,
                active=source.active,
                direction=source.direction.value,
            )
        )

    async def delete_unused(self, source_id: str) -> bool:
        used = select(signals.c.id).where(signals.c.source_id == source_id).exists()
        # An unused source's follows go with it (its followers then follow the others).
        await self._session.execute(
            source_follows.delete().where(source_follows.c.source_id == source_id, ~used)
        )
        # So does its exchange account (no fill of it was copied, or a signal would exist).
        for table in (master_cursors, master_accounts):
            await self._session.execute(table.delete().where(table.c.source_id == source_id, ~used))
        result = await self._session.execute(
            signal_sources.delete().where(signal_sources.c.id == source_id, ~used)
        )
        return bool(getattr(result, "rowcount", 0))


def _source(row: Any) -> SignalSource:
    return SignalSource(
        id=row["id"],
        name=row["name"],
        passphrase_hash=row["passphrase_hash"],
        active=row["active"],
        direction=TradeDirection(row["direction"]),
    )


def signal_values(signal: Signal) -> dict[str, Any]:
    params = signal.params
    return {
        "id": signal.id,
        "source_id": signal.source_id,
        "symbol": params.symbol,
        "action": params.action.value,
        "risk_perc": params.risk_perc,
        "leverage": params.leverage,
        "tp_perc": params.tp_perc,
        "sl_perc": params.sl_perc,
        "external_id": params.external_id,
        "equity_fraction": params.mirrored.equity_fraction if params.mirrored else None,
        "close_fraction": params.mirrored.close_fraction if params.mirrored else None,
        "dedupe_key": signal.dedupe_key,
        "received_at": signal.received_at,
        "status": signal.status.value,
        "fanout_parts": signal.fanout_parts,
        "finished_parts": sum(1 << part for part in signal.finished_parts),
        "reference_price": signal.reference_price,
        "reference_at": signal.reference_at,
    }


def _mirrored(row: NamedRow) -> MirroredFill | None:
    equity_fraction, close_fraction = row["equity_fraction"], row["close_fraction"]
    if equity_fraction is None and close_fraction is None:
        return None
    return MirroredFill(equity_fraction=equity_fraction, close_fraction=close_fraction)


def _signal(row: NamedRow) -> Signal:
    return Signal(
        id=row["id"],
        source_id=row["source_id"],
        params=SignalParams(
            symbol=row["symbol"],
            action=SignalAction(row["action"]),
            risk_perc=row["risk_perc"],
            leverage=row["leverage"],
            tp_perc=row["tp_perc"],
            sl_perc=row["sl_perc"],
            external_id=row["external_id"],
            mirrored=_mirrored(row),
        ),
        dedupe_key=row["dedupe_key"],
        received_at=row["received_at"],
        status=SignalStatus(row["status"]),
        fanout_parts=row["fanout_parts"],
        finished_parts=frozenset(
            part for part in range(row["fanout_parts"]) if row["finished_parts"] >> part & 1
        ),
        reference_price=row["reference_price"],
        reference_at=row["reference_at"],
    )


def retired_dedupe_key(key: str, signal_id: str) -> str:
    """Where an expired key moves so it frees the unique (source, key) slot.

    Unique because it carries the signal's id; the key is cut, never the id, to fit.
    """
    suffix = f"#{signal_id}"
    length = cast(String, signals.c.dedupe_key.type).length or 0
    return key[: length - len(suffix)] + suffix


class SqlSignalRepository(SignalRepository):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add_unless_duplicate(
        self, signal: Signal, *, expiring_after: datetime
    ) -> tuple[Signal, bool]:
        key = signal.dedupe_key
        if await self._insert_if_new(signal):
            return signal, False
        existing = await self._by_key(signal.source_id, key)
        if existing is not None and existing.id == signal.id:
            return existing, False  # stored by an earlier try whose answer was lost
        if existing is not None:
            if not key_expires(key) or existing.received_at > expiring_after:
                return existing, True
            # Outside the window: move the old one's key aside. The guard makes a concurrent
            # caller that did the same a no-op; Postgres makes it wait for that one's commit.
            await self._session.execute(
                update(signals)
                .where(signals.c.id == existing.id, signals.c.dedupe_key == key)
                .values(dedupe_key=retired_dedupe_key(key, existing.id))
            )
        if await self._insert_if_new(signal):
            return signal, False
        winner = await self._by_key(signal.source_id, key)
        if winner is None:  # the insert just conflicted on this very key
            raise RuntimeError(f"signal key {key!r} conflicts but cannot be read")
        return winner, True

    async def _insert_if_new(self, signal: Signal) -> bool:
        statement = _NEW_SIGNAL[_dialect(self._session).name]
        return (await self._session.execute(statement, signal_values(signal))).first() is not None

    async def _by_key(self, source_id: str, key: str) -> Signal | None:
        return await self._one(and_(signals.c.source_id == source_id, signals.c.dedupe_key == key))

    async def _one(self, condition: Any) -> Signal | None:
        row = (await self._session.execute(select(signals).where(condition))).mappings().first()
        return None if row is None else _signal(row)

    async def get(self, signal_id: str) -> Signal | None:
        return await self._one(signals.c.id == signal_id)

    async def list_recent(self, *, limit: int, source_id: str | None = None) -> list[Signal]:
        statement = select(signals)
        if source_id is not None:
            statement = statement.where(signals.c.source_id == source_id)
        result = await self._session.execute(
            statement.order_by(signals.c.received_at.desc(), signals.c.id.desc()).limit(limit)
        )
        return [_signal(row) for row in result.mappings()]

    async def source_ids(self, signal_ids: Collection[str]) -> dict[str, str]:
        if not signal_ids:
            return {}
        statement = select(signals.c.id, signals.c.source_id).where(
            signals.c.id.in_(list(signal_ids))
        )
        return {row.id: row.source_id for row in await self._session.execute(statement)}

    async def set_status(self, signal_id: str, status: SignalStatus) -> None:
        await self._session.execute(
            update(signals).where(signals.c.id == signal_id).values(status=status.value)
        )

    async def set_reference(self, signal_id: str, price: Decimal, at: datetime) -> None:
        await self._session.execute(
            update(signals)
            .where(signals.c.id == signal_id, signals.c.reference_price.is_(None))
            .values(reference_price=price, reference_at=at)
        )

    async def list_next_in_line(self) -> list[Signal]:
        c, earlier = signals.c, signals.alias("earlier")
        result = await self._session.execute(
            select(signals)
            .where(
                c.status != SignalStatus.DONE.value,
                ~exists().where(_goes_before(earlier, c.source_id, c.symbol, c.received_at, c.id)),
            )
            .order_by(c.received_at, c.id)
        )
        return [_signal(row) for row in result.mappings()]

    async def first_unfinished(self, source_id: str, symbol: str) -> Signal | None:
        c = signals.c
        row = (
            (
                await self._session.execute(
                    select(signals)
                    .where(
                        c.source_id == source_id,
                        c.symbol == symbol,
                        c.status != SignalStatus.DONE.value,
                    )
                    .order_by(c.received_at, c.id)
                    .limit(1)
                )
            )
            .mappings()
            .first()
        )
        return None if row is None else _signal(row)

    async def finish_part(self, signal_id: str, part: FanoutPart) -> bool:
        c = signals.c
        finished = c.finished_parts.op("|")(1 << part.index)
        all_finished = (1 << part.count) - 1
        # One statement: the row lock (the write lock on SQLite) orders parts finishing at
        # once, and the last one sees every other part's bit.
        await self._session.execute(
            update(signals)
            .where(c.id == signal_id)
            .values(
                finished_parts=finished,
                status=case((finished == all_finished, SignalStatus.DONE.value), else_=c.status),
            )
        )
        status = await self._session.scalar(select(c.status).where(c.id == signal_id))
        return status == SignalStatus.DONE.value

    async def has_unfinished_before(self, signal: Signal) -> bool:
        ahead = _goes_before(
            signals, signal.source_id, signal.params.symbol, signal.received_at, signal.id
        )
        statement = select(signals.c.id).where(ahead).limit(1)
        return (await self._session.execute(statement)).first() is not None


def _goes_before(
    earlier: Any, source_id: Any, symbol: Any, received_at: Any, signal_id: Any
) -> ColumnElement[bool]:
    """`earlier` is a not-done signal of that source and symbol that runs before the signal
    described by the other arguments (columns or values). Ties on received_at are broken by
    id, so of two simultaneous signals one goes first."""
    c = earlier.c
    return and_(
        c.source_id == source_id,
        c.symbol == symbol,
        c.status != SignalStatus.DONE.value,
        or_(
            c.received_at < received_at,
            and_(c.received_at == received_at, c.id < signal_id),
        ),
    )
