"""Statements over many rows at once, in the cheapest form each backend offers.

On Postgres a batch of rows travels as one array per column and is spread out by
`unnest`: one statement, one round trip, no per-row parameter handling in SQLAlchemy. A
column with the same value in every row of the batch is bound once instead: most columns of
a fan-out's rows are (its signal, symbol, side, status, timestamps, NULLs), and each array
element costs type processing and encoding in the driver. SQLite gets the same statements
row by row (executemany).
"""

from collections.abc import Collection, Iterator, Mapping, Sequence
from typing import Any, TypeVar

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

T = TypeVar("T")


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
    names = list(rows[0])
    postgres = session.get_bind().dialect.name == "postgresql"

    def finished(statement: postgresql.Insert | sqlite.Insert) -> Executable:
        if update_on_conflict:
            statement = statement.on_conflict_do_update(
                index_elements=on_conflict,
                set_={name: statement.excluded[name] for name in update_on_conflict},
            )
        elif on_conflict:
            statement = statement.on_conflict_do_nothing(index_elements=on_conflict)
        return statement if returning is None else statement.returning(returning)

    returned: list[Any] = []
    for chunk in _chunks(rows):
        if postgres:
            # The first column stays an array: it gives the number of rows.
            fields, params = _bulk_source(table, names, chunk, arrays=names[:1])
            statement = postgresql.insert(table).from_select(names, select(*fields.values()))
            result = await session.execute(finished(statement), params)
        else:
            result = await session.execute(finished(sqlite.insert(table)), list(chunk))
        if returning is not None:
            returned.extend(result.scalars())
    return returned


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
    names = list(rows[0])
    if session.get_bind().dialect.name == "postgresql":
        for chunk in _chunks(rows):
            # The first key column stays an array: it gives the number of rows.
            fields, params = _bulk_source(table, names, chunk, arrays=key[:1])
            where = [table.c[name] == fields[name] for name in key]
            values = {n: fields[n] for n in names if n not in key}
            statement = update(table).where(*where, *only).values({**values, **(also or {})})
            await session.execute(statement, params)
        return
    # Prefixed: a bindparam named like a column is reserved in UPDATE ... SET.
    where = [table.c[name] == bindparam(f"p_{name}") for name in key]
    values = {n: bindparam(f"p_{n}", type_=table.c[n].type) for n in names if n not in key}
    statement = update(table).where(*where, *only).values({**values, **(also or {})})
    for chunk in _chunks(rows):
        await session.execute(statement, [{f"p_{n}": row[n] for n in names} for row in chunk])


def _bulk_source(
    table: Table, names: Sequence[str], rows: Sequence[Mapping[str, Any]], *, arrays: Sequence[str]
) -> tuple[dict[str, ColumnElement[Any]], dict[str, Any]]:
    """The rows as `unnest` of one array per column, except the columns (other than `arrays`)
    whose value is the same in every row, each bound once.

    Returns each name's expression (a column of the unnest, or a parameter) and the
    parameters to execute with.
    """
    columns = {name: [row[name] for row in rows] for name in names}
    # A column is shared when its first value is all it holds (list.count compares in C).
    shared = [
        name
        for name in names
        if name not in arrays and columns[name].count(columns[name][0]) == len(rows)
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
    params = {f"u_{name}": columns[name] for name in spread}
    params.update((f"s_{name}", columns[name][0]) for name in shared)
    return fields, params


def _chunks(items: Sequence[T], size: int = BULK_ROWS) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
