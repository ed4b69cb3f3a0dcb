"""A follower's exchange connections and the admin's review of them."""

import uuid
from dataclasses import dataclass

from mimic.application.audit_trail import SYSTEM, RequestContext, audit_event
from mimic.domain.accounts import (
    PAPER_EXCHANGE,
    ApiCredentials,
    ConnectionStatus,
    ExchangeAccount,
    mask_api_key,
)
from mimic.domain.errors import Conflict, InvalidField, NotFound, TooManyRequests
from mimic.domain.quotas import Quotas
from mimic.ports.credentials import CredentialRepository, SecretBox, ValidationQueue
from mimic.ports.exchange import ExchangeGateways, PaperMarket
from mimic.ports.repositories import AuditLog, ExchangeAccountRepository, TransactionManager
from mimic.ports.services import Clock, Notifier

MAX_LABEL_LENGTH = 64
MAX_CREDENTIAL_LENGTH = 512
# The connection quota's Retry-After: a hint only, the place frees when one is deleted.
CONNECTION_QUOTA_RETRY_SECONDS = 3600


@dataclass(frozen=True, slots=True)
class ConnectExchangeCommand:
    user_id: str
    exchange: str
    label: str | None = None
    api_key: str | None = None
    api_secret: str | None = None
    password: str | None = None


class ConnectExchange:
    """A follower connects an exchange account; it waits for the admin's approval.

    Live exchanges need API credentials: they are encrypted (bound to this user and
    connection) before they are stored, and checked against the exchange in the
    background, so an exchange outage never blocks the submission.
    """

    def __init__(
        self,
        accounts: ExchangeAccountRepository,
        gateways: ExchangeGateways,
        paper: PaperMarket,
        tx: TransactionManager,
        clock: Clock,
        box: SecretBox,
        credentials: CredentialRepository,
        validations: ValidationQueue,
        quotas: Quotas,
    ) -> None:
        self._quota = quotas.exchange_connections
        self._accounts = accounts
        self._gateways = gateways
        self._paper = paper
        self._tx = tx
        self._clock = clock
        self._box = box
        self._credentials = credentials
        self._validations = validations

    async def __call__(self, command: ConnectExchangeCommand) -> ExchangeAccount:
        exchange = command.exchange.strip().lower()
        if not self._gateways.supports(exchange):
            raise InvalidField(
                "exchange",
                f"{command.exchange!r} is not a supported exchange (paper, or a ccxt exchange "
                "id with perpetual futures such as binanceusdm)",
            )
        label = (command.label or exchange).strip()
        if not label or len(label) > MAX_LABEL_LENGTH:
            raise InvalidField("label", f"must be 1-{MAX_LABEL_LENGTH} characters")
        credentials = (
            None
            if exchange == PAPER_EXCHANGE
            else api_credentials(exchange, command.api_key, command.api_secret, command.password)
        )
        if len(await self._accounts.list_for_user(command.user_id)) >= self._quota:
            # A count, not a rate: waiting frees nothing, deleting a connection does.
            raise TooManyRequests(
                f"at most {self._quota} exchange connections per user; delete one to connect "
                "another",
                CONNECTION_QUOTA_RETRY_SECONDS,
            )
        account = ExchangeAccount(
            id=uuid.uuid4().hex,
            user_id=command.user_id,
            exchange=exchange,
            label=label,
            created_at=self._clock.now(),
            api_key_masked=mask_api_key(command.api_key.strip()) if command.api_key else None,
        )
        await self._accounts.add(account)
        if credentials is not None:
            token = self._box.seal(credentials, user_id=account.user_id, account_id=account.id)
            await self._credentials.store(account.id, token)
        await self._tx.commit()
        if exchange == PAPER_EXCHANGE:
            # The venue keeps its own books (own transaction): open them after ours is
            # committed.
            await self._paper.open_account(account.id)
        await self._validations.enqueue_validation(account.id)
        return account


def api_credentials(
    exchange: str,
    api_key: str | None,
    api_secret: str | None,
    password: str | None,
    *,
    purpose: str = "to connect",
) -> ApiCredentials:
    """Keys as typed, trimmed and bounded; a missing key or secret is a 422 naming it."""

    def required(field: str, value: str | None) -> str:
        value = (value or "").strip()
        if not value:
            raise InvalidField(field, f"is required {purpose} {exchange}")
        return _bounded(field, value)

    passphrase = (password or "").strip()
    return ApiCredentials(
        api_key=required("api_key", api_key),
        api_secret=required("api_secret", api_secret),
        password=_bounded("password", passphrase) if passphrase else None,
    )


def _bounded(field: str, value: str) -> str:
    if len(value) > MAX_CREDENTIAL_LENGTH or not value.isprintable():
        raise InvalidField(field, f"must be at most {MAX_CREDENTIAL_LENGTH} printable characters")
    return value


class ListConnections:
    def __init__(self, accounts: ExchangeAccountRepository) -> None:
        self._accounts = accounts

    async def __call__(self, user_id: str) -> list[ExchangeAccount]:
        return await self._accounts.list_for_user(user_id)

    async def by_status(self, status: ConnectionStatus | None) -> list[ExchangeAccount]:
        return await self._accounts.list_by_status(status)


class ManageConnection:
    """A follower enables, disables or deletes one of their own connections."""

    def __init__(self, accounts: ExchangeAccountRepository, tx: TransactionManager) -> None:
        self._accounts = accounts
        self._tx = tx

    async def _own(self, user_id: str, account_id: str) -> ExchangeAccount:
        account = await self._accounts.get(account_id)
        if account is None or account.user_id != user_id:
            raise NotFound("exchange connection not found")
        return account

    async def set_enabled(self, user_id: str, account_id: str, enabled: bool) -> ExchangeAccount:
        account = await self._own(user_id, account_id)
        account.enabled = enabled
        await self._accounts.save(account)
        await self._tx.commit()
        return account

    async def delete(self, user_id: str, account_id: str) -> None:
        await self._own(user_id, account_id)
        await self._accounts.delete(account_id)
        await self._tx.commit()


class ReviewConnection:
    """The admin approves or rejects a pending connection; the follower is told."""

    def __init__(
        self,
        accounts: ExchangeAccountRepository,
        tx: TransactionManager,
        audit: AuditLog,
        clock: Clock,
        notifier: Notifier,
    ) -> None:
        self._accounts = accounts
        self._tx = tx
        self._audit = audit
        self._clock = clock
        self._notifier = notifier

    async def approve(self, account_id: str, context: RequestContext = SYSTEM) -> ExchangeAccount:
        return await self._decide(account_id, ConnectionStatus.APPROVED, None, context)

    async def reject(
        self, account_id: str, reason: str, context: RequestContext = SYSTEM
    ) -> ExchangeAccount:
        reason = reason.strip()
        if not reason:
            raise InvalidField("reason", "is required when rejecting a connection")
        return await self._decide(account_id, ConnectionStatus.REJECTED, reason[:500], context)

    async def _decide(
        self,
        account_id: str,
        status: ConnectionStatus,
        reason: str | None,
        context: RequestContext,
    ) -> ExchangeAccount:
        account = await self._accounts.get(account_id)
        if account is None:
            raise NotFound("exchange connection not found")
        if account.status is status:
            return account
        if account.status is not ConnectionStatus.PENDING and status is ConnectionStatus.APPROVED:
            raise Conflict(f"connection is {account.status}; only pending ones can be approved")
        account.status = status
        account.status_reason = reason
        await self._accounts.save(account)
        await self._audit.record(
            audit_event(
                context,
                self._clock.now(),
                f"exchange.{status}",
                target=f"exchange:{account.id}",
                user=account.user_id,
                **({"reason": reason} if reason else {}),
            )
        )
        await self._tx.commit()
        name = f"{account.exchange} connection {account.label!r}"
        if status is ConnectionStatus.APPROVED:
            await self._notifier.notify(
                account.user_id,
                "exchange.approved",
                f"Your {name} was approved: Mimic copies the next signals to it.",
            )
        else:
            await self._notifier.notify(
                account.user_id, "exchange.rejected", f"Your {name} was rejected: {reason}"
            )
        return account
