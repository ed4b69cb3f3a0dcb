"""What accounts' streams may have missed (they were away, or they just started), read by
REST and recorded as if the streams had sent it: recording is idempotent, so what a stream
did see is not recorded twice.

A worker that takes thousands of new streams at once reconciles them in batches: one read
of their positions' entries for the whole batch (most accounts have none: nothing else to
do for them), the exchanges asked a few accounts at a time, and what they report recorded
in one unit of work (one account at a time if that fails).
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from mimic.application.exchange_concurrency import ExchangeConcurrency
from mimic.application.record_account_fills import RecordAccountFills
from mimic.domain.account_events import AccountEvent, fill_events
from mimic.domain.accounts import ExchangeAccount
from mimic.domain.errors import ExchangeError
from mimic.domain.orders import OrderIntent
from mimic.ports.exchange import ExchangeGateways
from mimic.ports.protection import PositionIntentRepository
from mimic.ports.repositories import TransactionManager


@dataclass(frozen=True, slots=True)
class Reconciled:
    recorded: list[OrderIntent]  # the order rows inserted
    failed: dict[str, Exception]  # why each account that failed did, by account id


class ReconcileAccountFills:
    def __init__(
        self,
        position_intents: PositionIntentRepository,
        gateways: ExchangeGateways,
        record: RecordAccountFills,
        tx: TransactionManager,
    ) -> None:
        self._position_intents = position_intents
        self._gateways = gateways
        self._record = record
        self._tx = tx

    async def __call__(
        self, accounts: Sequence[tuple[ExchangeAccount, datetime]], at_once: int
    ) -> Reconciled:
        """The fills of each account since its time on the symbols Mimic opened positions
        on (others are the hourly portfolio sync's), `at_once` accounts asked at a time.
        Returns the order rows recorded and why each account that failed did (its exchange,
        or the recording of its fills alone). Raises when the entries cannot be read: then
        none is reconciled."""
        entries = await self._position_intents.latest_entries([a.id for a, _ in accounts])
        await self._tx.commit()  # no transaction stays open while the exchanges answer
        symbols: dict[str, set[str]] = defaultdict(set)
        for entry in entries:
            symbols[entry.account_id].add(entry.symbol)
        fetched: list[tuple[ExchangeAccount, list[AccountEvent]]] = []
        failed: dict[str, Exception] = {}

        async def fetch(item: tuple[ExchangeAccount, datetime]) -> None:
            account, since = item
            try:
                gateway = await self._gateways.for_account(account)
                fills = await gateway.fetch_fills(symbols[account.id], since)
            except ExchangeError as exc:
                failed[account.id] = exc
                return
            fetched.append((account, list(fill_events(fills))))

        asked = [item for item in accounts if item[0].id in symbols]
        await ExchangeConcurrency(at_once).run(asked, lambda item: item[0].exchange, fetch)
        outcome = await self._record.record_many_isolated(fetched)
        await self._record.release(outcome.flat)
        return Reconciled(outcome.recorded, failed | outcome.failed)
