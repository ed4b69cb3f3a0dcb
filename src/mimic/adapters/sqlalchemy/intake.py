"""The webhook's store: sources remembered by passphrase hash, and on Postgres a signal
stored by one autocommitted statement that also checks that its source still stands.

Measured with py-spy on bench/intake.py, the session way cost the intake seven round trips
per alert (pre-ping's BEGIN, `;` and ROLLBACK, BEGIN, the source's SELECT, the INSERT,
COMMIT) and most of its CPU; the statement below is one round trip, sent through the
driver itself. Whatever it cannot settle (a duplicate, a changed source, a failed
connection) goes the session way, inside a transaction, as before.
"""

import copy
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

import asyncpg
from sqlalchemy import ColumnElement, and_, bindparam, exists, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

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


def _source_stands() -> ColumnElement[bool]:
    """The source as the intake was told it: same passphrase, still active, same direction."""
    return and_(
        signal_sources.c.id == bindparam("source_id"),
        signal_sources.c.passphrase_hash == bindparam("passphrase_hash"),
        signal_sources.c.active.is_(True),
        signal_sources.c.direction == bindparam("direction"),
    )


# INSERT ... SELECT <the values> WHERE <the source stands> ON CONFLICT DO NOTHING RETURNING:
# a row back means stored. (The asyncpg dialect casts each value to its column's type.)
_GUARDED_INSERT = (
    postgresql.insert(signals)
    .from_select(
        [column.name for column in signals.c],
        select(*(bindparam(column.name, type_=column.type) for column in signals.c)).where(
            exists().where(_source_stands())
        ),
    )
    .on_conflict_do_nothing(index_elements=[signals.c.source_id, signals.c.dedupe_key])
    .returning(signals.c.id)
)


ASYNCPG = make_url("postgresql+asyncpg://").get_dialect()()


class _DriverStatement:
    """A statement compiled once for asyncpg's dialect, run on the driver's connection with
    the column types' own conversions of each value."""

    def __init__(self, dialect: Dialect) -> None:
        compiled = _GUARDED_INSERT.compile(dialect=dialect)
        self.sql = compiled.string
        self._binds: list[tuple[str, Callable[[Any], Any] | None]] = [
            (name, compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect))
            for name in compiled.positiontup or ()
        ]

    def arguments(self, values: dict[str, Any]) -> list[Any]:
        return [
            values[name] if process is None else process(values[name])
            for name, process in self._binds
        ]


class SqlSignalIntake(SignalIntake):
    """`at_once`: asyncpg's pool for the one-statement way (Postgres only,
    `engine.open_intake_pool`), without ping, as that statement is its own: a dead
    connection fails it and is dropped, and the alert goes the session way, whose engine
    pings. None: always the session way."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], at_once: asyncpg.Pool | None
    ) -> None:
        self._sessions = sessions
        self._at_once = at_once
        self._statement = None if at_once is None else _DriverStatement(ASYNCPG)
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
        """Whether the one statement stored it; False: a duplicate, a changed source, a
        failure, or no such way here."""
        if self._at_once is None or self._statement is None:
            return False
        values = values | {
            "passphrase_hash": source.passphrase_hash,
            "direction": source.direction.value,
        }
        try:
            async with self._at_once.acquire() as connection:
                try:
                    row = await connection.fetchrow(
                        self._statement.sql, *self._statement.arguments(values)
                    )
                except Exception:
                    connection.terminate()  # whatever state it is in, it is not reused
                    raise
        except Exception as exc:
            # The session way decides (and answers a 503 if the database is down).
            log.warning("signal %s: storing at once failed (%s)", values["id"], exc)
            return False
        return row is not None

    async def _store_in_transaction(
        self, signal: Signal, source: SignalSource, expiring_after: datetime
    ) -> tuple[Signal, bool] | None:
        async with self._sessions() as session:
            stands = await session.execute(
                select(signal_sources.c.id)
                .where(_source_stands())
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
