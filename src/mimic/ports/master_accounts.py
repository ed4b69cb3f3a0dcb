"""A master's own exchange account, and how far its trade history has been copied."""

from collections.abc import Mapping
from typing import Protocol

from mimic.domain.master_fills import MasterAccount, MasterCursor
from mimic.ports.credentials import StoredCredentials


class MasterAccountRepository(Protocol):
    async def add(self, account: MasterAccount, token: str | None) -> None:
        """`token`: the sealed credentials (None on the paper exchange). Raises `Conflict`
        when the source has an account already."""
        ...

    async def get_for_source(self, source_id: str) -> MasterAccount | None: ...

    async def list_all(self) -> list[MasterAccount]: ...

    async def delete_for_source(self, source_id: str) -> bool:
        """Deletes the account and its cursors; whether there was one."""
        ...

    async def credentials(self, account_id: str) -> StoredCredentials | None:
        """The sealed credentials, with the owner they are bound to (`MasterAccount.owner`)."""
        ...

    async def cursors(self, source_id: str) -> dict[str, MasterCursor]:
        """Per symbol; a symbol without one has not been read yet."""
        ...

    async def save_cursors(self, source_id: str, cursors: Mapping[str, MasterCursor]) -> None:
        """Insert or update these symbols' cursors (with the caller's transaction)."""
        ...
