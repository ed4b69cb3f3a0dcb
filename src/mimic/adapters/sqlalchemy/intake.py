"""The webhook's store: sources remembered by passphrase hash, and on Postgres a signal
stored by one autocommitted statement that also checks that its source still stands.

Measured with py-spy on bench/intake.py, the session way cost the intake seven round trips
per alert (pre-ping's BEGIN, `;` and ROLLBACK, BEGIN, the source's SELECT, the INSERT,
COMMIT) and most of its CPU; the statement below is one round trip, sent through the
driver itself. Alerts that arrive while the pool's connections are all committing go
together in the next statement (adapters/grouped.py): one round trip, one commit and one
lock of their source's row for the group, each alert answered once the commit holding it
is done. Whatever it cannot settle (a duplicate, a changed source, a failed group) goes the
session way, alert by alert, inside a transaction, as before.
"""

import copy
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import asyncpg
from sqlalchemy import ColumnElement, String, and_, bindparam, exists, func, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.types import TypeEngine

from mimic.adapters.grouped import Grouped
from mimic.adapters.sqlalchemy.signals import (
    SqlSignalRepository,
    SqlSignalSourceRepository,
    signal_values,
)
from mimic.adapters.sqlalchemy.tables import signal_sources, signals
from mimic.domain.accounts import SignalSource
from mimic.domain.signal import Signal
from mimic.ports.intake import SignalIntake

log = logging.getLogger(__name__)

# An operator has a handful of sources; past this many remembered, all are forgotten.
MAX_REMEMBERED_SOURCES = 1024
# Alerts stored by one statement at most (a bound on its arrays; a burst goes in several).
MAX_GROUP = 256


def _source_stands(
    source_id: ColumnElement[Any],
    passphrase_hash: ColumnElement[Any],
    direction: ColumnElement[Any],
) -> ColumnElement[bool]:
    """The source as the intake was told it: same passphrase, still active, same direction."""
    return and_(
        signal_sources.c.id == source_id,
        signal_sources.c.passphrase_hash == passphrase_hash,
        signal_sources.c.active.is_(True),
        signal_sources.c.direction == direction,
    )


# The guard's own values, sent with each alert's.
_GUARD = {"passphrase_hash": String(), "direction": String()}


def _as_sent(column_type: TypeEngine[Any]) -> TypeEngine[Any]:
    """A column's type for the values sent: strings without their length, as a cast to
    VARCHAR(n) would cut a longer one short where the column itself refuses it."""
    return String() if isinstance(column_type, String) else column_type


# INSERT ... SELECT <each alert's values> FROM unnest(<one array per column>) WHERE <its
# source stands> ON CONFLICT DO NOTHING RETURNING id: the rows back are the ones stored, by
# one statement and one commit for the whole group. (The asyncpg dialect casts each array to
# its column's type.)
_ALERTS = (
    func.unnest(
        *(bindparam(column.name, type_=ARRAY(_as_sent(column.type))) for column in signals.c),
        *(bindparam(name, type_=ARRAY(type_)) for name, type_ in _GUARD.items()),
    )
    .table_valued(*(column.name for column in signals.c), *_GUARD)
    .render_derived()
    .alias("alert")
)
_GROUPED_INSERT = (
    postgresql.insert(signals)
    .from_select(
        [column.name for column in signals.c],
        select(*(_ALERTS.c[column.name] for column in signals.c)).where(
            exists().where(
                _source_stands(_ALERTS.c.source_id, _ALERTS.c.passphrase_hash, _ALERTS.c.direction)
            )
        ),
    )
    .on_conflict_do_nothing(index_elements=[signals.c.source_id, signals.c.dedupe_key])
    .returning(signals.c.id)
)


ASYNCPG = make_url("postgresql+asyncpg://").get_dialect()()


class _DriverStatement:
    """A statement compiled once for asyncpg's dialect, run on the driver's connection with
    the column types' own conversions of each group's values, one array per column."""

    def __init__(self, dialect: Dialect) -> None:
        compiled = _GROUPED_INSERT.compile(dialect=dialect)
        self.sql = compiled.string
        self._binds: list[tuple[str, Callable[[Any], Any] | None]] = [
            (name, compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect))
            for name in compiled.positiontup or ()
        ]

    def arguments(self, group: list[dict[str, Any]]) -> list[Any]:
        columns = ([values[name] for values in group] for name, _ in self._binds)
        return [
            column if process is None else process(column)
            for column, (_, process) in zip(columns, self._binds, strict=True)
        ]


class _GroupedStore:
    """The grouped statement on asyncpg's pool, a group per connection at most: alerts that
    arrive while every connection is busy committing go together in the next statement."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._statement = _DriverStatement(ASYNCPG)
        self.stored = Grouped(self._store, in_flight=pool.get_max_size(), max_group=MAX_GROUP)

    async def _store(self, group: list[dict[str, Any]]) -> list[bool]:
        """Whether each alert of the group was stored, by one statement and its commit."""
        async with self._pool.acquire() as connection:
            try:
                rows = await connection.fetch(
                    self._statement.sql, *self._statement.arguments(group)
                )
            except Exception:
                connection.terminate()  # whatever state it is in, it is not reused
                raise
        stored = {row[0] for row in rows}
        return [values["id"] in stored for values in group]


class SqlSignalIntake(SignalIntake):
    """`at_once`: asyncpg's pool for the one-statement way (Postgres only,
    `engine.open_intake_pool`), without ping, as that statement is its own: a dead
    connection fails it and is dropped, and the alert goes the session way, whose engine
    pings. None: always the session way."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], at_once: asyncpg.Pool | None
    ) -> None:
        self._sessions = sessions
        self._at_once = None if at_once is None else _GroupedStore(at_once)
        self._remembered: dict[str, SignalSource] = {}

    async def source_by_passphrase_hash(self, passphrase_hash: str) -> SignalSource | None:
        source = self._remembered.get(passphrase_hash)
        if source is None:
            async with self._sessions() as session:
                source = await SqlSignalSourceRepository(session).get_by_passphrase_hash(
                    passphrase_hash
                )
            if source is None or not source.active:
                return source  # a wrong guess is not remembered: it would fill the memory
            if len(self._remembered) >= MAX_REMEMBERED_SOURCES:
                self._remembered.clear()
            self._remembered[passphrase_hash] = source
        return copy.copy(source)

    async def store(
        self, signal: Signal, source: SignalSource, *, expiring_after: datetime
    ) -> tuple[Signal, bool] | None:
        values = signal_values(signal)
        if await self._stored_at_once(values, source):
            return signal, False
        stored = await self._store_in_transaction(signal, source, expiring_after)
        if stored is None:
            self._remembered.pop(source.passphrase_hash, None)
        return stored

    async def _stored_at_once(self, values: dict[str, Any], source: SignalSource) -> bool:
        """Whether the grouped statement stored it; False: a duplicate, a changed source, a
        failure, or no such way here."""
        if self._at_once is None:
            return False
        values = values | {
            "passphrase_hash": source.passphrase_hash,
            "direction": source.direction.value,
        }
        try:
            return await self._at_once.stored(values)
        except Exception as exc:
            # The session way decides (and answers a 503 if the database is down).
            log.warning("signal %s: storing at once failed (%s)", values["id"], exc)
            return False

    async def _store_in_transaction(
        self, signal: Signal, source: SignalSource, expiring_after: datetime
    ) -> tuple[Signal, bool] | None:
        async with self._sessions() as session:
            stands = await session.execute(
                select(signal_sources.c.id)
                .where(
                    _source_stands(
                        bindparam("source_id"), bindparam("passphrase_hash"), bindparam("direction")
                    )
                )
                .with_for_update(read=True),  # no change to it before this commits
                {
                    "source_id": source.id,
                    "passphrase_hash": source.passphrase_hash,
                    "direction": source.direction.value,
                },
            )
            if stands.first() is None:
                return None
            stored = await SqlSignalRepository(session).add_unless_duplicate(
                signal, expiring_after=expiring_after
            )
            await session.commit()
        return stored
