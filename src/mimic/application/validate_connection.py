"""The background check of a connection's credentials against its exchange."""

import logging
from datetime import timedelta

from mimic.domain.accounts import ExchangeAccount, ValidationStatus
from mimic.domain.errors import ExchangeError
from mimic.ports.credentials import ConnectionChecks, ValidationQueue
from mimic.ports.exchange import ExchangeGateways
from mimic.ports.repositories import ExchangeAccountRepository, TransactionManager
from mimic.ports.services import Clock, Notifier

log = logging.getLogger(__name__)


class ValidateConnection:
    """Checks credentials, permissions, futures and position mode; records what it found.

    A definitive answer (keys refused, futures disabled, withdrawals allowed) is recorded
    as invalid and the follower is told; an outage or a rate limit leaves the connection
    unchecked, with the reason, for the sweeper to try again later.
    """

    def __init__(
        self,
        accounts: ExchangeAccountRepository,
        checks: ConnectionChecks,
        gateways: ExchangeGateways,
        tx: TransactionManager,
        clock: Clock,
        notifier: Notifier,
    ) -> None:
        self._accounts = accounts
        self._checks = checks
        self._gateways = gateways
        self._tx = tx
        self._clock = clock
        self._notifier = notifier

    async def __call__(self, account_id: str) -> ExchangeAccount | None:
        account = await self._accounts.get(account_id)
        if account is None or account.validation_status is not ValidationStatus.UNCHECKED:
            return account
        status, detail = await self._check(account)
        account.validation_status = status
        account.validation_detail = detail
        account.validated_at = self._clock.now()
        await self._checks.record(account.id, status, detail, account.validated_at)
        await self._tx.commit()
        if status is ValidationStatus.UNCHECKED:
            log.info("connection %s not checked yet: %s", account.id, detail)
        else:
            event = "exchange.validated" if status is ValidationStatus.VALID else "exchange.invalid"
            await self._notifier.notify(
                account.user_id,
                event,
                f"Your {account.exchange} connection {account.label!r} was checked: {detail}",
            )
        return account

    async def _check(self, account: ExchangeAccount) -> tuple[ValidationStatus, str]:
        try:
            gateway = await self._gateways.for_account(account)
            check = await gateway.check_account()
        except ExchangeError as exc:
            if exc.retryable:
                return ValidationStatus.UNCHECKED, f"exchange not reachable, will retry: {exc}"
            return ValidationStatus.INVALID, str(exc)
        return (ValidationStatus.VALID if check.ok else ValidationStatus.INVALID), check.detail


class SweepUnvalidatedConnections:
    """Re-drives checks that an outage or a lost queue message left undone."""

    def __init__(
        self, checks: ConnectionChecks, queue: ValidationQueue, clock: Clock, retry_after: timedelta
    ) -> None:
        self._checks = checks
        self._queue = queue
        self._clock = clock
        self._retry_after = retry_after

    async def __call__(self) -> list[str]:
        waiting = list(await self._checks.unchecked(self._clock.now() - self._retry_after))
        for account_id in waiting:
            await self._queue.enqueue_validation(account_id)
        if waiting:
            log.info("sweeper re-queued the check of %d connection(s)", len(waiting))
        return waiting
