"""In-memory masters' accounts and cursors (ports.master_accounts)."""

import copy
from collections.abc import Mapping

from mimic.domain.errors import Conflict
from mimic.domain.master_fills import MasterAccount, MasterCursor, master_owner
from mimic.ports.credentials import StoredCredentials
from mimic.ports.master_accounts import MasterAccountRepository


class InMemoryMasterAccountRepository(MasterAccountRepository):
    def __init__(self) -> None:
        self._accounts: dict[str, MasterAccount] = {}  # by source id
        self._tokens: dict[str, str] = {}  # by account id
        self._cursors: dict[str, dict[str, MasterCursor]] = {}

    async def add(self, account: MasterAccount, token: str | None) -> None:
        if account.source_id in self._accounts:
            raise Conflict("the source has an exchange account: detach it first")
        self._accounts[account.source_id] = copy.deepcopy(account)
        if token is not None:
            self._tokens[account.id] = token

    async def get_for_source(self, source_id: str) -> MasterAccount | None:
        return copy.deepcopy(self._accounts.get(source_id))

    async def list_all(self) -> list[MasterAccount]:
        return [copy.deepcopy(a) for _, a in sorted(self._accounts.items())]

    async def delete_for_source(self, source_id: str) -> bool:
        self._cursors.pop(source_id, None)
        return self._accounts.pop(source_id, None) is not None

    async def credentials(self, account_id: str) -> StoredCredentials | None:
        for account in self._accounts.values():
            if account.id == account_id and account_id in self._tokens:
                owner = master_owner(account.source_id)
                return StoredCredentials(
                    account_id, owner, account.exchange, self._tokens[account_id]
                )
        return None

    async def cursors(self, source_id: str) -> dict[str, MasterCursor]:
        return dict(self._cursors.get(source_id, {}))

    async def save_cursors(self, source_id: str, cursors: Mapping[str, MasterCursor]) -> None:
        saved = self._cursors.setdefault(source_id, {})
        for symbol, cursor in cursors.items():
            if symbol not in saved or saved[symbol].since <= cursor.since:
                saved[symbol] = cursor

    def rewind(self, source_id: str, cursors: Mapping[str, MasterCursor]) -> None:
        """Test hook: the cursors as a reader that read them earlier still sees them."""
        self._cursors[source_id] = dict(cursors)
