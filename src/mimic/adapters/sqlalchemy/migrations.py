"""Run Alembic migrations from code (the CLI `migrate` command, tests, the embedded start).

Synchronous: alembic/env.py runs its own event loop, so async callers use
`await asyncio.to_thread(upgrade, url)`.
"""

from pathlib import Path

from alembic import command
from alembic.config import Config

# src/mimic/adapters/sqlalchemy/migrations.py -> the repository root holds alembic/.
SCRIPT_LOCATION = Path(__file__).resolve().parents[4] / "alembic"


def alembic_config(database_url: str) -> Config:
    """A Config built in code, so migrations run from any working directory."""
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    # The option goes through ConfigParser interpolation: escape the %-encoded characters.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)
