"""Masters' exchange accounts and the cursors of their trade histories."""

from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mimic.adapters.sqlalchemy.statements import _insert
from mimic.adapters.sqlalchemy.tables import master_accounts, master_cursors
from mimic.domain.errors import Conflict
from mimic.domain.master_fills import MasterAccount, MasterCursor, master_owner
from mimic.ports.credentials import CredentialRepository, StoredCredentials
from mimic.ports.master_accounts import MasterAccountRepository

_a = master_accounts.c
_c = master_cursors.c


class SqlMasterAccountRepository(MasterAccountRepository):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, account: MasterAccount, token: str | None) -> None:
        try:
            async with self._session.begin_nested():
                await self._session.execute(
                    master_accounts.insert().values(
                        id=account.id,
                        source_id=account.source_id,
                        exchange=account.exchange,
                        symbols=",".join(account.symbols),
                        api_key_masked=account.api_key_masked,
                        credentials_token=token,
                        permission_warning=account.permission_warning,
                        created_at=account.created_at,
                    )
                )
        except IntegrityError:
            raise Conflict("the source has an exchange account: detach it first") from None

    async def get_for_source(self, source_id: str) -> MasterAccount | None:
        row = (
            (await self._session.execute(select(master_accounts).where(_a.source_id == source_id)))
            .mappings()
            .first()
        )
        return None if row is None else _account(row)

    async def list_all(self) -> list[MasterAccount]:
        statement = select(master_accounts).order_by(_a.source_id)
        return [_account(row) for row in (await self._session.execute(statement)).mappings()]

    async def delete_for_source(self, source_id: str) -> bool:
        await self._session.execute(master_cursors.delete().where(_c.source_id == source_id))
        result = await self._session.execute(
            master_accounts.delete().where(_a.source_id == source_id)
        )
        return bool(getattr(result, "rowcount", 0))

    async def credentials(self, account_id: str) -> StoredCredentials | None:
        return await SqlMasterCredentials(self._session).get(account_id)

    async def cursors(self, source_id: str) -> dict[str, MasterCursor]:
        statement = select(master_cursors).where(_c.source_id == source_id)
        rows = (await self._session.execute(statement)).mappings()
        return {row["symbol"]: _cursor(row) for row in rows}

    async def save_cursors(self, source_id: str, cursors: Mapping[str, MasterCursor]) -> None:
        if not cursors:
            return
        insert = _insert(self._session, master_cursors)
        statement = insert.on_conflict_do_update(
            index_elements=[_c.source_id, _c.symbol],
            set_={
                "since": insert.excluded.since,
                "copied_at_since": insert.excluded.copied_at_since,
                "position": insert.excluded.position,
            },
            # Two reads at once: the one that read less never moves the cursor back.
            where=_c.since <= insert.excluded.since,
        )
        await self._session.execute(
            statement,
            [
                {
                    "source_id": source_id,
                    "symbol": cursor.symbol,
                    "since": cursor.since,
                    "copied_at_since": ",".join(sorted(cursor.copied_at_since)),
                    "position": cursor.position,
                }
                for cursor in cursors.values()
            ],
        )


class SqlMasterCredentials(CredentialRepository):
    """Masters' sealed keys, for the vault and the key rotation as followers' are."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def store(self, account_id: str, token: str) -> None:
        await self._session.execute(
            update(master_accounts).where(_a.id == account_id).values(credentials_token=token)
        )

    async def get(self, account_id: str) -> StoredCredentials | None:
        found = await self._select(_a.id == account_id, limit=1)
        return found[0] if found else None

    async def page_after(self, account_id: str | None, limit: int) -> list[StoredCredentials]:
        return await self._select(None if account_id is None else _a.id > account_id, limit=limit)

    async def replace(self, account_id: str, old_token: str, new_token: str) -> bool:
        result = await self._session.execute(
            update(master_accounts)
            .where(_a.id == account_id, _a.credentials_token == old_token)
            .values(credentials_token=new_token)
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    async def _select(
        self, condition: ColumnElement[bool] | None, *, limit: int
    ) -> list[StoredCredentials]:
        statement = (
            select(_a.id, _a.source_id, _a.exchange, _a.credentials_token)
            .where(_a.credentials_token.is_not(None))
            .order_by(_a.id)
            .limit(limit)
        )
        if condition is not None:
            statement = statement.where(condition)
        rows = (await self._session.execute(statement)).all()
        return [StoredCredentials(r[0], master_owner(r[1]), r[2], r[3]) for r in rows]


def _account(row: Any) -> MasterAccount:
    return MasterAccount(
        id=row["id"],
        source_id=row["source_id"],
        exchange=row["exchange"],
        symbols=tuple(s for s in row["symbols"].split(",") if s),
        created_at=row["created_at"],
        api_key_masked=row["api_key_masked"],
        permission_warning=row["permission_warning"],
    )


def _cursor(row: Any) -> MasterCursor:
    ids = row["copied_at_since"]
    return MasterCursor(
        symbol=row["symbol"],
        since=row["since"],
        copied_at_since=frozenset(ids.split(",")) if ids else frozenset(),
        position=row["position"],
    )
