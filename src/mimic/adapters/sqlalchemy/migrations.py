"""Run Alembic migrations from code (the CLI `migrate` command, tests, the embedded start).

Synchronous: alembic/env.py runs its own event loop, so async callers use
`await asyncio.to_thread(upgrade, url)`. Alembic is imported when a migration runs, not
with this module: a worker or `mimic serve` never migrates, and importing it costs them
about a second of CPU at every start.
"""

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alembic.config import Config

# src/mimic/adapters/sqlalchemy/migrations.py -> the repository root holds alembic/.
SCRIPT_LOCATION = Path(__file__).resolve().parents[4] / "alembic"


def alembic_config(database_url: str) -> "Config":
    """A Config built in code, so migrations run from any working directory."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    # The option goes through ConfigParser interpolation: escape the %-encoded characters.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(database_url), revision)
