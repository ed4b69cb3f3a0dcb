"""In-memory adapters of the ports in mimic.ports.credentials."""

import json
from collections.abc import Sequence
from datetime import datetime

from mimic.domain.accounts import ApiCredentials, ConnectionStatus, ValidationStatus
from mimic.domain.errors import SecretUnreadable
from mimic.ports.credentials import (
    ConnectionChecks,
    CredentialRepository,
    SecretBox,
    StoredCredentials,
    ValidationQueue,
)
from tests.fakes.repositories.exchange_accounts import InMemoryExchangeAccountRepository


class LabelledBox(SecretBox):
    """Not encryption: a readable token that keeps the binding and the key generation, so
    interactor tests can see what was sealed for whom and which key was used."""

    def __init__(self, generation: int = 1) -> None:
        self.generation = generation

    def seal(self, credentials: ApiCredentials, *, user_id: str, account_id: str) -> str:
        body = {
            "g": self.generation,
            "user": user_id,
            "account": account_id,
            "key": credentials.api_key,
            "secret": credentials.api_secret,
            "password": credentials.password,
        }
        return "sealed:" + json.dumps(body, sort_keys=True)

    def _body(self, token: str, user_id: str, account_id: str) -> dict[str, object]:
        if not token.startswith("sealed:"):
            raise SecretUnreadable("not a token")
        body: dict[str, object] = json.loads(token.removeprefix("sealed:"))
        if (body["user"], body["account"]) != (user_id, account_id):
            raise SecretUnreadable(f"credentials of connection {account_id} belong elsewhere")
        return body

    def open(self, token: str, *, user_id: str, account_id: str) -> ApiCredentials:
        body = self._body(token, user_id, account_id)
        password = body["password"]
        return ApiCredentials(
            str(body["key"]), str(body["secret"]), None if password is None else str(password)
        )

    def rotate(self, token: str, *, user_id: str, account_id: str) -> str | None:
        body = self._body(token, user_id, account_id)
        if body["g"] == self.generation:
            return None
        return self.seal(
            self.open(token, user_id=user_id, account_id=account_id),
            user_id=user_id,
            account_id=account_id,
        )


class InMemoryCredentialRepository(CredentialRepository):
    def __init__(self, accounts: InMemoryExchangeAccountRepository) -> None:
        self._accounts = accounts
        self.tokens: dict[str, str] = {}

    async def store(self, account_id: str, token: str) -> None:
        self.tokens[account_id] = token

    async def get(self, account_id: str) -> StoredCredentials | None:
        account = await self._accounts.get(account_id)
        token = self.tokens.get(account_id)
        if account is None or token is None:
            return None
        return StoredCredentials(account.id, account.user_id, account.exchange, token)

    async def page_after(self, account_id: str | None, limit: int) -> list[StoredCredentials]:
        found = []
        for key in sorted(self.tokens):
            if account_id is None or key > account_id:
                stored = await self.get(key)
                if stored is not None:
                    found.append(stored)
        return found[:limit]

    async def replace(self, account_id: str, old_token: str, new_token: str) -> bool:
        if self.tokens.get(account_id) != old_token:
            return False
        self.tokens[account_id] = new_token
        return True


class InMemoryConnectionChecks(ConnectionChecks):
    def __init__(self, accounts: InMemoryExchangeAccountRepository) -> None:
        self._accounts = accounts

    async def record(
        self, account_id: str, status: ValidationStatus, detail: str, checked_at: datetime
    ) -> None:
        account = await self._accounts.get(account_id)
        if account is not None:
            account.validation_status = status
            account.validation_detail = detail
            account.validated_at = checked_at
            await self._accounts.save(account)

    async def unchecked(self, last_tried_before: datetime) -> Sequence[str]:
        return [
            a.id
            for a in await self._accounts.list_by_status(ConnectionStatus.PENDING)
            if a.validation_status is ValidationStatus.UNCHECKED
            and (a.validated_at or a.created_at) < last_tried_before
        ]


class RecordingValidationQueue(ValidationQueue):
    def __init__(self) -> None:
        self.enqueued: list[str] = []

    async def enqueue_validation(self, account_id: str) -> None:
        self.enqueued.append(account_id)
