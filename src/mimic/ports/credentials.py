"""Exchange credentials at rest, and the background check of each connection."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from mimic.domain.accounts import ApiCredentials, ValidationStatus


class SecretBox(Protocol):
    """Encrypts a connection's credentials, bound to that connection and its owner.

    A token opens only for the (user, connection) it was sealed for: copied to another
    row, it fails. Every failure raises `SecretUnreadable`, whose message holds no secret.
    """

    def seal(self, credentials: ApiCredentials, *, user_id: str, account_id: str) -> str: ...

    def open(self, token: str, *, user_id: str, account_id: str) -> ApiCredentials: ...

    def rotate(self, token: str, *, user_id: str, account_id: str) -> str | None:
        """The token re-encrypted with the newest key; None when it already is."""
        ...


@dataclass(frozen=True, slots=True)
class StoredCredentials:
    account_id: str
    user_id: str
    exchange: str
    token: str


class CredentialRepository(Protocol):
    """Ciphertexts, kept on their connection's row (deleted with it)."""

    async def store(self, account_id: str, token: str) -> None: ...

    async def get(self, account_id: str) -> StoredCredentials | None: ...

    async def page_after(self, account_id: str | None, limit: int) -> list[StoredCredentials]:
        """Connections holding credentials, ordered by id, after `account_id`."""
        ...

    async def replace(self, account_id: str, old_token: str, new_token: str) -> bool:
        """Compare-and-swap: False when the row changed (or went) since `old_token` was read."""
        ...


class ConnectionChecks(Protocol):
    """Results of the background validation, written apart from the rest of the row so
    that a check never overwrites an admin's decision made meanwhile (or the reverse)."""

    async def record(
        self, account_id: str, status: ValidationStatus, detail: str, checked_at: datetime
    ) -> None: ...

    async def unchecked(self, last_tried_before: datetime) -> Sequence[str]:
        """Ids of pending connections still unchecked whose last try (or creation) is
        older. Once the admin has decided, a check has nothing left to inform."""
        ...


class ValidationQueue(Protocol):
    async def enqueue_validation(self, account_id: str) -> None:
        """Best effort: the sweeper re-drives connections left unchecked."""
        ...
