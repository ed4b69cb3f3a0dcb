"""Statements over many rows at once, in the cheapest form each backend offers.

On Postgres a batch of rows travels as one array per column and is spread out by
`unnest`: one statement, one round trip, no per-row parameter handling in SQLAlchemy. SQLite
gets the same statements row by row (executemany).
"""

from collections.abc import Collection, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import (
    Column,
    ColumnElement,
    Dialect,
    Executable,
    Table,
    TableValuedAlias,
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
    statement: postgresql.Insert | sqlite.Insert
    if postgres:
        source = _unnest(table, names)
        statement = postgresql.insert(table).from_select(names, select(*source.c))
    else:
        statement = sqlite.insert(table)
    if update_on_conflict:
        statement = statement.on_conflict_do_update(
            index_elements=on_conflict,
            set_={name: statement.excluded[name] for name in update_on_conflict},
        )
    elif on_conflict:
        statement = statement.on_conflict_do_nothing(index_elements=on_conflict)
    executable: Executable = statement if returning is None else statement.returning(returning)
    returned: list[Any] = []
    for chunk in _chunks(rows):
        params: Any = _columns(names, chunk) if postgres else list(chunk)
        result = await session.execute(executable, params)
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
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        source = _unnest(table, names)
        where = [table.c[name] == source.c[name] for name in key]
        values: dict[str, Any] = {n: source.c[n] for n in names if n not in key}
    else:
        # Prefixed: a bindparam named like a column is reserved in UPDATE ... SET.
        where = [table.c[name] == bindparam(f"p_{name}") for name in key]
        values = {n: bindparam(f"p_{n}", type_=table.c[n].type) for n in names if n not in key}
    statement = update(table).where(*where, *only).values({**values, **(also or {})})
    for chunk in _chunks(rows):
        if postgres:
            await session.execute(statement, _columns(names, chunk))
        else:
            await session.execute(statement, [{f"p_{n}": row[n] for n in names} for row in chunk])


def _unnest(table: Table, names: Sequence[str]) -> TableValuedAlias:
    arrays = [bindparam(f"u_{name}", type_=ARRAY(table.c[name].type)) for name in names]
    return func.unnest(*arrays).table_valued(*names).render_derived(name="bulk_rows")


def _columns(names: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
    return {f"u_{name}": [row[name] for row in rows] for name in names}


def _chunks(items: Sequence[T], size: int = BULK_ROWS) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
