"""The embedded SQLite engine's connection settings, read back from real connections."""

from pathlib import Path

from sqlalchemy import text

from mimic.adapters.sqlalchemy.engine import create_engine

# PRAGMA synchronous reads back as a number: 1 NORMAL, 2 FULL.
FULL = 2


async def test_every_sqlite_connection_commits_to_disk_in_wal_mode(tmp_path: Path) -> None:
    """A commit is on disk when it returns (an intent outlives a power loss before its order
    is sent); readers run beside the writer; a second writer waits; foreign keys hold."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'mimic.db'}")
    try:
        async with engine.connect() as first, engine.connect() as second:
            for connection in (first, second):
                settings = [
                    (await connection.execute(text(f"PRAGMA {name}"))).scalar_one()
                    for name in ("journal_mode", "synchronous", "busy_timeout", "foreign_keys")
                ]
                assert settings == ["wal", FULL, 30000, 1]
    finally:
        await engine.dispose()
