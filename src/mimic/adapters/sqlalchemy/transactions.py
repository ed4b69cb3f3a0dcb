"""The unit of work on SQLAlchemy: repositories share the request's `AsyncSession`, and the
caller commits through the `TransactionManager`."""

from sqlalchemy.ext.asyncio import AsyncSession

from mimic.ports.repositories import TransactionManager


class SqlTransactionManager(TransactionManager):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def commit(self) -> None:
        await self._session.commit()

    async def rollback(self) -> None:
        await self._session.rollback()
