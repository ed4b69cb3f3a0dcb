"""Ciphertexts and validation results on the exchange_accounts row.

Each statement touches only its own columns, so a validation result, an admin's decision
and a key rotation never overwrite one another.
"""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mimic.adapters.sqlalchemy.tables import UtcDateTime, exchange_accounts
from mimic.domain.accounts import ConnectionStatus, ValidationStatus
from mimic.ports.credentials import ConnectionChecks, CredentialRepository, StoredCredentials

_c = exchange_accounts.c
_DETAIL_LENGTH = 500


class SqlCredentialRepository(CredentialRepository):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def store(self, account_id: str, token: str) -> None:
        await self._session.execute(
            update(exchange_accounts).where(_c.id == account_id).values(credentials_token=token)
        )

    async def get(self, account_id: str) -> StoredCredentials | None:
        found = await self._select(_c.id == account_id, limit=1)
        return found[0] if found else None

    async def page_after(self, account_id: str | None, limit: int) -> list[StoredCredentials]:
        condition = None if account_id is None else _c.id > account_id
        return await self._select(condition, limit=limit)

    async def replace(self, account_id: str, old_token: str, new_token: str) -> bool:
        result = await self._session.execute(
            update(exchange_accounts)
            .where(_c.id == account_id, _c.credentials_token == old_token)
            .values(credentials_token=new_token)
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    async def _select(self, condition: object, *, limit: int) -> list[StoredCredentials]:
        statement = (
            select(_c.id, _c.user_id, _c.exchange, _c.credentials_token)
            .where(_c.credentials_token.is_not(None))
            .order_by(_c.id)
            .limit(limit)
        )
        if condition is not None:
            statement = statement.where(condition)  # type: ignore[arg-type]
        rows = (await self._session.execute(statement)).all()
        return [StoredCredentials(row[0], row[1], row[2], row[3]) for row in rows]


class SqlConnectionChecks(ConnectionChecks):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def record(
        self, account_id: str, status: ValidationStatus, detail: str, checked_at: datetime
    ) -> None:
        await self._session.execute(
            update(exchange_accounts)
            .where(_c.id == account_id)
            .values(
                validation_status=status.value,
                validation_detail=detail[:_DETAIL_LENGTH],
                validated_at=checked_at,
            )
        )

    async def unchecked(self, last_tried_before: datetime) -> Sequence[str]:
        statement = (
            select(_c.id)
            .where(
                _c.status == ConnectionStatus.PENDING.value,
                _c.validation_status == ValidationStatus.UNCHECKED.value,
                func.coalesce(_c.validated_at, _c.created_at, type_=UtcDateTime())
                < last_tried_before,
            )
            .order_by(_c.id)
        )
        return list((await self._session.execute(statement)).scalars())
