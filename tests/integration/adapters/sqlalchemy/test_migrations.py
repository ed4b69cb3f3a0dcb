"""Migrations against real SQLite and Postgres: every step reversible, head equals `tables`,
and `mimic migrate` builds an empty database and its admin.

These tests take an empty database; every other test gets one already at head.
"""

import asyncio
from datetime import UTC, datetime
from functools import partial
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, select, text, update
from sqlalchemy.exc import IntegrityError

from mimic.adapters.sqlalchemy.engine import create_engine
from mimic.adapters.sqlalchemy.migrations import alembic_config, downgrade, upgrade
from mimic.adapters.sqlalchemy.tables import metadata, telegram_links, users
from mimic.adapters.system import Argon2PasswordHasher
from mimic.entrypoints.cli import migrate_and_bootstrap
from tests.integration.harness import ADMIN_PASSWORD, make_settings


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


async def test_stairway_every_revision_goes_up_down_and_up_again(empty_database_url: str) -> None:
    script = ScriptDirectory.from_config(alembic_config(empty_database_url))
    revisions = list(reversed(list(script.walk_revisions("base", "heads"))))
    assert revisions, "no migrations found"
    assert await run_sync_on(empty_database_url, table_names) == set()
    for revision in revisions:
        await asyncio.to_thread(upgrade, empty_database_url, revision.revision)
        await asyncio.to_thread(
            downgrade, empty_database_url, str(revision.down_revision or "base")
        )
        await asyncio.to_thread(upgrade, empty_database_url, revision.revision)
    assert await run_sync_on(empty_database_url, table_names) == set(metadata.tables)

    await asyncio.to_thread(downgrade, empty_database_url, "base")
    assert await run_sync_on(empty_database_url, table_names) == set()


async def test_head_matches_the_tables_module(empty_database_url: str) -> None:
    await asyncio.to_thread(upgrade, empty_database_url)
    assert await run_sync_on(empty_database_url, schema_differences) == []


def intent_storage(connection: Connection) -> tuple[Any, str]:
    """(order_intents' storage options on Postgres, its parent index's definition)."""
    if connection.dialect.name == "postgresql":
        options = connection.execute(
            text("SELECT reloptions FROM pg_class WHERE relname = 'order_intents'")
        ).scalar_one()
        definition = connection.execute(
            text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_order_intents_parent_id'")
        ).scalar_one()
    else:
        options = None
        definition = connection.execute(
            text("SELECT sql FROM sqlite_master WHERE name = 'ix_order_intents_parent_id'")
        ).scalar_one()
    return options, str(definition)


async def test_order_intents_are_updated_in_place_and_skip_the_parent_index(
    empty_database_url: str,
) -> None:
    await asyncio.to_thread(upgrade, empty_database_url)
    options, definition = await run_sync_on(empty_database_url, intent_storage)
    assert "parent_id IS NOT NULL" in definition
    if empty_database_url.startswith("postgresql"):
        assert options == ["fillfactor=50"]
    await asyncio.to_thread(downgrade, empty_database_url, "0009")
    options, definition = await run_sync_on(empty_database_url, intent_storage)
    assert "IS NOT NULL" not in definition
    assert options is None


def paper_book_storage(connection: Connection) -> dict[str, Any]:
    """Storage options of the paper venue's per-account tables on Postgres."""
    rows = connection.execute(
        text(
            "SELECT relname, reloptions FROM pg_class "
            "WHERE relname IN ('paper_accounts', 'paper_positions')"
        )
    )
    return {row.relname: row.reloptions for row in rows}


async def test_paper_books_are_updated_in_place(empty_postgres_url: str) -> None:
    # Fill factors are Postgres storage options: SQLite has nothing to compare.
    await asyncio.to_thread(upgrade, empty_postgres_url)
    half_empty = {"paper_accounts": ["fillfactor=50"], "paper_positions": ["fillfactor=50"]}
    assert await run_sync_on(empty_postgres_url, paper_book_storage) == half_empty
    await asyncio.to_thread(downgrade, empty_postgres_url, "0022_accounts_created_order")
    default = {"paper_accounts": None, "paper_positions": None}
    assert await run_sync_on(empty_postgres_url, paper_book_storage) == default


async def test_migrate_command_builds_the_schema_and_the_admin_with_the_real_hasher(
    empty_database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # The other platform tests bootstrap with a cheap hasher; this one runs the command's own.
    await asyncio.to_thread(migrate_and_bootstrap, make_settings(empty_database_url))
    assert await run_sync_on(empty_database_url, table_names) == set(metadata.tables)
    admin_hash = await run_sync_on(
        empty_database_url,
        lambda connection: connection.execute(
            select(users.c.password_hash).where(users.c.username == "admin")
        ).scalar_one(),
    )
    hasher = Argon2PasswordHasher()
    assert await hasher.verify(admin_hash, ADMIN_PASSWORD)
    assert not hasher.needs_rehash(admin_hash)
    assert "Mimic is ready." in capsys.readouterr().out


def add_user(connection: Connection, user_id: str, username: str, email: str) -> None:
    connection.execute(
        users.insert().values(
            id=user_id,
            username=username,
            email=email,
            password_hash="argon2-hash",
            role="user",
            active=True,
            paused=False,
            trailing_enabled=False,
            dca_enabled=False,
            created_at=datetime(2026, 12, 1, tzinfo=UTC),
        )
    )
    connection.commit()


async def test_case_folding_refuses_and_lists_accounts_that_collide(
    empty_database_url: str,
) -> None:
    await asyncio.to_thread(upgrade, empty_database_url, "0010")
    for user_id, username, email in (
        ("u1", "Alice", "alice@example.com"),
        ("u2", "alice", "alice2@example.com"),
        ("u3", "bob", "Bob@Example.com"),
        ("u4", "bobby", "bob@example.com"),
        ("u5", "carol", "carol@example.com"),
    ):
        await run_sync_on(
            empty_database_url, partial(add_user, user_id=user_id, username=username, email=email)
        )
    with pytest.raises(Exception, match="once case is ignored") as refused:
        await asyncio.to_thread(upgrade, empty_database_url)
    listed = str(refused.value)
    for line in (
        "username 'Alice' (user id u1)",
        "username 'alice' (user id u2)",
        "email 'Bob@Example.com' (user id u3)",
        "email 'bob@example.com' (user id u4)",
    ):
        assert line in listed
    assert "carol" not in listed

    def rename(connection: Connection) -> None:
        connection.execute(update(users).where(users.c.id == "u2").values(username="alice.two"))
        connection.execute(
            update(users).where(users.c.id == "u4").values(email="bobby@example.com")
        )
        connection.commit()

    await run_sync_on(empty_database_url, rename)
    await asyncio.to_thread(upgrade, empty_database_url)
    with pytest.raises(IntegrityError):
        await run_sync_on(
            empty_database_url,
            partial(add_user, user_id="u6", username="CAROL", email="c6@example.com"),
        )


async def test_linked_groups_and_channels_are_unlinked_private_chats_stay(
    empty_database_url: str,
) -> None:
    await asyncio.to_thread(upgrade, empty_database_url, "0012")
    chats = {"u1": "7011223344", "u2": "-4012345678", "u3": "-1001987654321"}

    def link_all(connection: Connection) -> None:
        for user_id, chat_id in chats.items():
            add_user(connection, user_id, user_id, f"{user_id}@example.com")
            connection.execute(
                telegram_links.insert().values(
                    user_id=user_id, chat_id=chat_id, linked_at=datetime(2026, 12, 1, tzinfo=UTC)
                )
            )
        connection.commit()

    def linked(connection: Connection) -> dict[str, str]:
        rows = connection.execute(select(telegram_links.c.user_id, telegram_links.c.chat_id))
        return {row.user_id: row.chat_id for row in rows}

    await run_sync_on(empty_database_url, link_all)
    await asyncio.to_thread(upgrade, empty_database_url)
    assert await run_sync_on(empty_database_url, linked) == {"u1": "7011223344"}
