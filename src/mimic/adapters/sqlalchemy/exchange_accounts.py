"""The exchange account repository on SQLAlchemy Core: rows are mapped to domain objects."""

from collections.abc import Collection
from typing import Any

from sqlalchemy import delete, func, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from mimic.adapters.sqlalchemy.bulk import one_of
from mimic.adapters.sqlalchemy.statements import _chunks, _dialect, _in_part
from mimic.adapters.sqlalchemy.tables import NamedRow, exchange_accounts, users
from mimic.adapters.sqlalchemy.users import _user
from mimic.domain.accounts import ConnectionStatus, ExchangeAccount, User, ValidationStatus
from mimic.domain.fanout import FanoutPart
from mimic.ports.repositories import ExchangeAccountRepository


def _account_values(account: ExchangeAccount) -> dict[str, Any]:
    return {
        "id": account.id,
        "user_id": account.user_id,
        "exchange": account.exchange,
        "label": account.label,
        "status": account.status.value,
        "enabled": account.enabled,
        "api_key_masked": account.api_key_masked,
        "status_reason": account.status_reason,
        "created_at": account.created_at,
    }


def _account(row: NamedRow) -> ExchangeAccount:
    return ExchangeAccount(
        id=row["id"],
        user_id=row["user_id"],
        exchange=row["exchange"],
        label=row["label"],
        created_at=row["created_at"],
        status=ConnectionStatus(row["status"]),
        enabled=row["enabled"],
        api_key_masked=row["api_key_masked"],
        status_reason=row["status_reason"],
        # Written only by SqlConnectionChecks (credentials.py), never by save().
        validation_status=ValidationStatus(row["validation_status"]),
        validation_detail=row["validation_detail"],
        validated_at=row["validated_at"],
    )


# What `_account` reads: not the encrypted credentials, which no list needs and which are
# most of a row's bytes.
_ACCOUNT_READ = [column for column in exchange_accounts.c if column.name != "credentials_token"]
_ACCOUNT_COLUMNS = [column.name for column in _ACCOUNT_READ]
_USER_COLUMNS = [column.name for column in users.c]


class SqlExchangeAccountRepository(ExchangeAccountRepository):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, account: ExchangeAccount) -> None:
        await self._session.execute(exchange_accounts.insert().values(_account_values(account)))

    async def get(self, account_id: str) -> ExchangeAccount | None:
        found = await self._where(exchange_accounts.c.id == account_id)
        return found[0] if found else None

    async def get_many(self, account_ids: Collection[str]) -> list[ExchangeAccount]:
        found: list[ExchangeAccount] = []
        for chunk in _chunks(sorted(set(account_ids))):
            found.extend(
                await self._where(one_of(_dialect(self._session), exchange_accounts.c.id, chunk))
            )
        return found

    async def list_for_user(self, user_id: str) -> list[ExchangeAccount]:
        return await self._where(exchange_accounts.c.user_id == user_id)

    async def list_by_status(self, status: ConnectionStatus | None) -> list[ExchangeAccount]:
        if status is None:
            return await self._where(None)
        return await self._where(exchange_accounts.c.status == status.value)

    async def save(self, account: ExchangeAccount) -> None:
        values = _account_values(account)
        del values["id"], values["created_at"]
        await self._session.execute(
            update(exchange_accounts).where(exchange_accounts.c.id == account.id).values(values)
        )

    async def delete(self, account_id: str) -> None:
        await self._session.execute(
            delete(exchange_accounts).where(exchange_accounts.c.id == account_id)
        )

    async def list_copy_candidates(
        self,
        *,
        monitored_only: bool = False,
        part: FanoutPart | None = None,
        after: ExchangeAccount | None = None,
        limit: int | None = None,
    ) -> list[tuple[ExchangeAccount, User]]:
        statement = (
            select(*_ACCOUNT_READ, users)
            .join(users, users.c.id == exchange_accounts.c.user_id)
            .where(
                exchange_accounts.c.status == ConnectionStatus.APPROVED.value,
                users.c.active.is_(True),
            )
            .order_by(exchange_accounts.c.created_at, exchange_accounts.c.id)
        )
        if monitored_only:  # as ProtectionSettings.monitored says
            statement = statement.where(
                or_(users.c.trailing_enabled.is_(True), users.c.dca_enabled.is_(True))
            )
        if part is not None:
            statement = statement.where(*_in_part(exchange_accounts.c.id, part))
        if after is not None:  # keyset: ix_exchange_accounts_created_at_id reads a page only
            statement = statement.where(
                tuple_(exchange_accounts.c.created_at, exchange_accounts.c.id)
                > tuple_(after.created_at, after.id)
            )
        if limit is not None:
            statement = statement.limit(limit)
        result = await self._session.execute(statement)
        # Both tables have `id` and `created_at`: each half of a row is read by its own names.
        split = len(_ACCOUNT_COLUMNS)
        return [
            (
                _account(dict(zip(_ACCOUNT_COLUMNS, row[:split], strict=True))),
                _user(dict(zip(_USER_COLUMNS, row[split:], strict=True))),
            )
            for row in result
        ]

    async def list_streamed(self) -> dict[str, str]:
        """Each exchange's ids as one string the database joins: 100,000 rows made into
        result rows cost a worker 0.23 s of CPU at every refresh, the strings a few ms."""
        c = exchange_accounts.c
        statement = (
            select(c.exchange, func.count(), func.aggregate_strings(c.id, _ID_SEPARATOR))
            .where(_streamed(c))
            .group_by(c.exchange)
        )
        streamed: dict[str, str] = {}
        for exchange, count, joined in (await self._session.execute(statement)).all():
            ids = joined.split(_ID_SEPARATOR)
            if len(ids) != count:  # an id with the separator in it: they are read apart
                return await self._list_streamed_rows()
            streamed.update(dict.fromkeys(ids, exchange))
        return streamed

    async def _list_streamed_rows(self) -> dict[str, str]:
        c = exchange_accounts.c
        statement = select(c.id, c.exchange).where(_streamed(c))
        return dict((await self._session.execute(statement)).all())

    async def _where(self, condition: Any) -> list[ExchangeAccount]:
        statement = select(*_ACCOUNT_READ).order_by(
            exchange_accounts.c.created_at, exchange_accounts.c.id
        )
        if condition is not None:
            statement = statement.where(condition)
        return [_account(row) for row in (await self._session.execute(statement)).mappings()]


_ID_SEPARATOR = ","  # ids are hex (domain.ids); any other is still read right, apart


def _streamed(c: Any) -> Any:
    """Approved connections of active users (`list_copy_candidates`'s)."""
    active = select(users.c.id).where(users.c.active.is_(True))
    return (c.status == ConnectionStatus.APPROVED.value) & c.user_id.in_(active)
