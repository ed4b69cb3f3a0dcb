"""Statement helpers the SQL repositories share: chunked parameters, the dialect's INSERT."""

from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import Column, ColumnElement, Dialect, Table, bindparam, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from mimic.domain.fanout import FanoutPart

# Bound parameters per statement stay far below SQLite's and asyncpg's limits.
CHUNK_SIZE = 500

T = TypeVar("T")


def _chunks(items: Sequence[T], size: int = CHUNK_SIZE) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _dialect(session: AsyncSession) -> Dialect:
    return session.get_bind().dialect


def _insert(session: AsyncSession, table: Table) -> postgresql.Insert | sqlite.Insert:
    """The dialect's INSERT, which knows ON CONFLICT (both spell it the same way)."""
    if _dialect(session).name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def _in_part(account_id: Column[str], part: FanoutPart) -> list[ColumnElement[bool]]:
    """The conditions that hold `account_id` to the part's range (FanoutPart.holds)."""
    conditions = []
    if part.low is not None:
        conditions.append(account_id >= part.low)
    if part.high is not None:
        conditions.append(account_id < part.high)
    return conditions


def unnest_insert(table: Table, conflict: Sequence[Column[Any]]) -> postgresql.Insert:
    """Postgres: `INSERT ... SELECT FROM unnest(<one array per column>) ON CONFLICT (...) DO
    NOTHING`, executed with each column's values as one list. However many rows, it is one
    statement of one fixed text: prepared once per connection, where a multi-row VALUES is
    a new statement (parsed and planned again) for each number of rows, and executemany
    runs each row on its own. No RETURNING: the result's rowcount is how many it inserted."""
    columns = list(table.columns)
    # asyncpg's dialect casts each parameter to its type: `$1::VARCHAR(32)[]`.
    arrays = [bindparam(c.name, type_=postgresql.ARRAY(c.type)) for c in columns]
    rows = func.unnest(*arrays).table_valued(*(c.name for c in columns)).render_derived()
    return (
        postgresql.insert(table)
        .from_select([c.name for c in columns], select(rows))
        .on_conflict_do_nothing(index_elements=list(conflict))
    )
