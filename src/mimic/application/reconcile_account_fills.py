"""What an account's stream may have missed (it was away, or it just started), read by REST
and recorded as if the stream had sent it: recording is idempotent, so what the stream did
see is not recorded twice."""

from datetime import datetime

from mimic.application.record_account_fills import RecordAccountFills
from mimic.domain.account_events import fill_events
from mimic.domain.accounts import ExchangeAccount
from mimic.domain.orders import OrderIntent
from mimic.ports.exchange import ExchangeGateways
from mimic.ports.protection import PositionIntentRepository
from mimic.ports.repositories import TransactionManager


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

    async def __call__(self, account: ExchangeAccount, since: datetime) -> list[OrderIntent]:
        """The fills since `since` on the symbols Mimic opened positions on (others are the
        hourly portfolio sync's); returns the order rows recorded. Raises `ExchangeError`."""
        entries = await self._position_intents.latest_entries([account.id])
        await self._tx.commit()  # no transaction stays open while the exchange answers
        if not entries:
            return []
        gateway = await self._gateways.for_account(account)
        fills = await gateway.fetch_fills({e.symbol for e in entries}, since)
        return await self._record(account, fill_events(fills))
