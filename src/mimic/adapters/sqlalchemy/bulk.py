"""Statements over many rows at once, in the cheapest form each backend offers.

On Postgres a batch of rows travels as one array per column and is spread out by
`unnest`: one statement, one round trip, no per-row parameter handling in SQLAlchemy. A
column with the same value in every row of the batch is bound once instead: most columns of
a fan-out's rows are (its signal, symbol, side, status, timestamps, NULLs), and each array
element costs type processing and encoding in the driver. SQLite gets the same statements
row by row (executemany).
"""

from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Dialect,
    Executable,
    Table,
    any_,
    bindparam,
    func,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

# Rows per statement: bounded messages on Postgres; SQLite's executemany goes row by row.
BULK_ROWS = 5000


def one_of(
    dialect: Dialect, column: ColumnElement[Any], values: Collection[Any]
) -> ColumnElement[bool]:
    """`column IN values`; on Postgres `column = ANY(array)`: one parameter, one plan.

    An IN list has one bound parameter per value, which SQLAlchemy renders into the SQL
    text anew at every execution: thousands of values cost milliseconds per statement.
    """
    if dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(values)


# One sequence of values per column name, all of the same length: what a repository that
# writes thousands of objects builds straight from their attributes, without a dict per row.
Columns = Mapping[str, Sequence[Any]]


async def insert_rows(
    session: AsyncSession,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    on_conflict: Sequence[Column[Any]] = (),
    update_on_conflict: Sequence[str] = (),
    returning: Column[Any] | None = None,
) -> list[Any]:
    """INSERT `rows` (dicts with the same keys); returns the `returning` column's values.

    With `on_conflict` (a unique key), a row that collides is skipped, or with
    `update_on_conflict` the existing row gets those columns of the new one.
    """
    if not rows:
        return []
    guard = _Guard(on_conflict, update_on_conflict, returning)
    if _postgres(session):
        return await _insert_columns(session, table, _columns_of(rows), guard)
    return await _insert_rows(session, table, rows, guard)


async def insert_columns(
    session: AsyncSession,
    table: Table,
    columns: Columns,
    *,
    on_conflict: Sequence[Column[Any]] = (),
    update_on_conflict: Sequence[str] = (),
    returning: Column[Any] | None = None,
) -> list[Any]:
    """`insert_rows` of the rows that `columns` holds column by column."""
    if _row_count(columns) == 0:
        return []
    guard = _Guard(on_conflict, update_on_conflict, returning)
    if _postgres(session):
        return await _insert_columns(session, table, columns, guard)
    return await _insert_rows(session, table, _rows_of(columns), guard)


async def update_rows(
    session: AsyncSession,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    key: Sequence[str],
    also: Mapping[str, Any] | None = None,
    only: Sequence[ColumnElement[bool]] = (),
) -> None:
    """For each row: UPDATE table SET <its other columns> (and `also`) WHERE <its `key`>
    (and every condition in `only`)."""
    if not rows:
        return
    if _postgres(session):
        await _update_columns(session, table, _columns_of(rows), key, also, only)
    else:
        names = list(rows[0])
        prefixed = [{f"p_{n}": row[n] for n in names} for row in rows]
        await _update_rows(session, table, names, prefixed, key, also, only)


async def update_columns(
    session: AsyncSession,
    table: Table,
    columns: Columns,
    *,
    key: Sequence[str],
    also: Mapping[str, Any] | None = None,
    only: Sequence[ColumnElement[bool]] = (),
) -> None:
    """`update_rows` of the rows that `columns` holds column by column."""
    if _row_count(columns) == 0:
        return
    if _postgres(session):
        await _update_columns(session, table, columns, key, also, only)
    else:
        names = list(columns)
        prefixed = _rows_of({f"p_{n}": columns[n] for n in names})
        await _update_rows(session, table, names, prefixed, key, also, only)


# Each backend gets the form it sends: Postgres one array per column, SQLite (executemany)
# one dict per row; rows are turned into columns, or columns into rows, only for the backend
# that needs it (turning them both ways cost the embedded paper venue 2 us per row).


def _postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


@dataclass(frozen=True, slots=True)
class _Guard:
    """What an insert does with a row that collides, and what it returns."""

    on_conflict: Sequence[Column[Any]]
    update_on_conflict: Sequence[str]
    returning: Column[Any] | None

    def applied(self, statement: postgresql.Insert | sqlite.Insert) -> Executable:
        if self.update_on_conflict:
            statement = statement.on_conflict_do_update(
                index_elements=self.on_conflict,
                set_={name: statement.excluded[name] for name in self.update_on_conflict},
            )
        elif self.on_conflict:
            statement = statement.on_conflict_do_nothing(index_elements=self.on_conflict)
        return statement if self.returning is None else statement.returning(self.returning)


async def _insert_columns(
    session: AsyncSession, table: Table, columns: Columns, guard: _Guard
) -> list[Any]:
    names = list(columns)
    returned: list[Any] = []
    for chunk in _column_chunks(columns):
        # The first column stays an array: it gives the number of rows.
        fields, params = _bulk_source(table, chunk, arrays=names[:1])
        statement = postgresql.insert(table).from_select(names, select(*fields.values()))
        result = await session.execute(guard.applied(statement), params)
        if guard.returning is not None:
            returned.extend(result.scalars())
    return returned


async def _insert_rows(
    session: AsyncSession, table: Table, rows: Sequence[Mapping[str, Any]], guard: _Guard
) -> list[Any]:
    returned: list[Any] = []
    for start in range(0, len(rows), BULK_ROWS):
        chunk = list(rows[start : start + BULK_ROWS])
        result = await session.execute(guard.applied(sqlite.insert(table)), chunk)
        if guard.returning is not None:
            returned.extend(result.scalars())
    return returned


async def _update_columns(
    session: AsyncSession,
    table: Table,
    columns: Columns,
    key: Sequence[str],
    also: Mapping[str, Any] | None,
    only: Sequence[ColumnElement[bool]],
) -> None:
    names = list(columns)
    for chunk in _column_chunks(columns):
        # The first key column stays an array: it gives the number of rows.
        fields, params = _bulk_source(table, chunk, arrays=key[:1])
        where = [table.c[name] == fields[name] for name in key]
        values = {n: fields[n] for n in names if n not in key}
        statement = update(table).where(*where, *only).values({**values, **(also or {})})
        await session.execute(statement, params)


async def _update_rows(
    session: AsyncSession,
    table: Table,
    names: Sequence[str],
    prefixed: Sequence[Mapping[str, Any]],
    key: Sequence[str],
    also: Mapping[str, Any] | None,
    only: Sequence[ColumnElement[bool]],
) -> None:
    """`prefixed`: each row's values under "p_<column>", as a bindparam named like a column
    is reserved in UPDATE ... SET."""
    where = [table.c[name] == bindparam(f"p_{name}") for name in key]
    values = {n: bindparam(f"p_{n}", type_=table.c[n].type) for n in names if n not in key}
    statement = update(table).where(*where, *only).values({**values, **(also or {})})
    for start in range(0, len(prefixed), BULK_ROWS):
        await session.execute(statement, list(prefixed[start : start + BULK_ROWS]))


def _bulk_source(
    table: Table, columns: Columns, *, arrays: Sequence[str]
) -> tuple[dict[str, ColumnElement[Any]], dict[str, Any]]:
    """The rows as `unnest` of one array per column, except the columns (other than `arrays`)
    whose value is the same in every row, each bound once.

    Returns each name's expression (a column of the unnest, or a parameter) and the
    parameters to execute with.
    """
    names = list(columns)
    count = _row_count(columns)
    # A column is shared when its first value is all it holds (count compares in C).
    shared = [
        name
        for name in names
        if name not in arrays and columns[name].count(columns[name][0]) == count
    ]
    spread = [name for name in names if name not in shared]
    source = (
        func.unnest(*(bindparam(f"u_{name}", type_=ARRAY(table.c[name].type)) for name in spread))
        .table_valued(*spread)
        .render_derived(name="bulk_rows")
    )
    fields: dict[str, ColumnElement[Any]] = {
        name: (
            bindparam(f"s_{name}", type_=table.c[name].type) if name in shared else source.c[name]
        )
        for name in names
    }
    params: dict[str, Any] = {f"u_{name}": list(columns[name]) for name in spread}
    params.update((f"s_{name}", columns[name][0]) for name in shared)
    return fields, params


def _columns_of(rows: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
    return {name: [row[name] for row in rows] for name in rows[0]}


def _rows_of(columns: Columns) -> list[dict[str, Any]]:
    names = list(columns)
    return [dict(zip(names, values, strict=True)) for values in zip(*columns.values(), strict=True)]


def _column_chunks(columns: Columns) -> Iterator[Columns]:
    """`columns` BULK_ROWS rows at a time (at once when it holds no more)."""
    count = _row_count(columns)
    if count <= BULK_ROWS:
        yield columns
        return
    for start in range(0, count, BULK_ROWS):
        yield {name: values[start : start + BULK_ROWS] for name, values in columns.items()}


def _row_count(columns: Columns) -> int:
    return len(next(iter(columns.values()), ()))
