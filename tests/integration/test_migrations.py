"""Migrations against real SQLite and Postgres: every step reversible, head equals tables.py."""

import asyncio
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect

from mimic.adapters.sqlalchemy.engine import create_engine
from mimic.adapters.sqlalchemy.migrations import alembic_config, downgrade, upgrade
from mimic.adapters.sqlalchemy.tables import metadata


async def run_sync_on(database_url: str, work: Any) -> Any:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(work)
    finally:
        await engine.dispose()


def table_names(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names()) - {"alembic_version"}


def schema_differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


async def test_stairway_every_revision_goes_up_down_and_up_again(database_url: str) -> None:
    script = ScriptDirectory.from_config(alembic_config(database_url))
    revisions = list(reversed(list(script.walk_revisions("base", "heads"))))
    assert revisions, "no migrations found"
    for revision in revisions:
        await asyncio.to_thread(upgrade, database_url, revision.revision)
        await asyncio.to_thread(downgrade, database_url, str(revision.down_revision or "base"))
        await asyncio.to_thread(upgrade, database_url, revision.revision)
    assert await run_sync_on(database_url, table_names) == set(metadata.tables)

    await asyncio.to_thread(downgrade, database_url, "base")
    assert await run_sync_on(database_url, table_names) == set()


async def test_head_matches_the_tables_module(database_url: str) -> None:
    await asyncio.to_thread(upgrade, database_url)
    assert await run_sync_on(database_url, schema_differences) == []
