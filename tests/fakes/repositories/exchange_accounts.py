"""In-memory ExchangeAccountRepository."""

import copy
from collections.abc import Collection

from mimic.domain.accounts import (
    ConnectionStatus,
    ExchangeAccount,
    User,
)
from mimic.domain.errors import (
    Conflict,
)
from mimic.domain.fanout import FanoutPart
from mimic.ports.repositories import (
    ExchangeAccountRepository,
)
from tests.fakes.repositories.users import InMemoryUserRepository


class InMemoryExchangeAccountRepository(ExchangeAccountRepository):
    def __init__(self, users: InMemoryUserRepository) -> None:
        self._users = users
        self._rows: dict[str, ExchangeAccount] = {}

    def _ordered(self) -> list[ExchangeAccount]:
        return sorted(self._rows.values(), key=lambda a: (a.created_at, a.id))

    async def add(self, account: ExchangeAccount) -> None:
        if account.id in self._rows:
            raise Conflict(f"exchange account {account.id} exists")
        self._rows[account.id] = copy.deepcopy(account)

    async def get(self, account_id: str) -> ExchangeAccount | None:
        return copy.deepcopy(self._rows.get(account_id))

    async def get_many(self, account_ids: Collection[str]) -> list[ExchangeAccount]:
        wanted = set(account_ids)
        return copy.deepcopy([a for a in self._ordered() if a.id in wanted])

    async def list_for_user(self, user_id: str) -> list[ExchangeAccount]:
        return copy.deepcopy([a for a in self._ordered() if a.user_id == user_id])

    async def list_by_status(self, status: ConnectionStatus | None) -> list[ExchangeAccount]:
        return copy.deepcopy([a for a in self._ordered() if status is None or a.status is status])

    async def save(self, account: ExchangeAccount) -> None:
        if account.id in self._rows:
            stored = copy.deepcopy(account)
            stored.created_at = self._rows[account.id].created_at
            self._rows[account.id] = stored

    async def delete(self, account_id: str) -> None:
        self._rows.pop(account_id, None)

    async def list_copy_candidates(
        self,
        *,
        monitored_only: bool = False,
        part: FanoutPart | None = None,
        after: ExchangeAccount | None = None,
        limit: int | None = None,
    ) -> list[tuple[ExchangeAccount, User]]:
        candidates = []
        for account in self._ordered():
            if len(candidates) == limit:
                break
            if account.status is not ConnectionStatus.APPROVED:
                continue
            if after is not None and (account.created_at, account.id) <= (
                after.created_at,
                after.id,
            ):
                continue
            if part is not None and not part.holds(account.id):
                continue
            user = await self._users.get(account.user_id)
            if monitored_only and (user is None or not user.protection.monitored):
                continue
            if user is not None and user.active:
                candidates.append((copy.deepcopy(account), user))
        return candidates

    async def list_streamed(self) -> dict[str, str]:
        return {account.id: account.exchange for account, _ in await self.list_copy_candidates()}
