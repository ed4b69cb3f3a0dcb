"""The database as a dependency: its readiness probe and what counts as an outage."""

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from mimic.adapters.sqlalchemy.engine import database_unreachable
from mimic.ports.health import DependencyProbe, StoreOutages


class DatabaseProbe(DependencyProbe):
    dependency = "database"

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def problem(self) -> str | None:
        try:
            await self._session.execute(text("SELECT 1"))
        except Exception as exc:  # any failure means "not answering"
            return exc.__class__.__name__
        return None


class SqlStoreOutages(StoreOutages):
    def is_outage(self, exc: BaseException) -> bool:
        return database_unreachable(exc)
