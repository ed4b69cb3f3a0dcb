"""A TransactionManager that counts commits and rollbacks."""

from mimic.ports.repositories import (
    TransactionManager,
)


class FakeTransactionManager(TransactionManager):
    def __init__(self) -> None:
        self.commits = 0
        self.rollbacks = 0

    async def commit(self) -> None:
        self.commits += 1

    async def rollback(self) -> None:
        self.rollbacks += 1
