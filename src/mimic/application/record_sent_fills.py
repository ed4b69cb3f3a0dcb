"""The fills of Mimic's own market orders, from many accounts' streams in one unit of work.

A fan-out's orders fill together, so their thousand stream events arrive together. The
order sender has already recorded each order, its notification and its page event: only
the exchange's fill is left to store. One insert and one commit for the burst, instead of a
transaction (and a read of each account's positions) per account, which on SQLite queued
the fan-out's own result behind a thousand writers.

Exactly once as every fill: stored under the exchange's fill id, so the reconciliation, or
an event delivered twice, adds nothing.
"""

from collections.abc import Sequence

from mimic.domain.account_events import FillEvent, sent_by_mimic
from mimic.domain.accounts import ExchangeAccount
from mimic.ports.performance import FillRepository
from mimic.ports.repositories import TransactionManager


class RecordSentFills:
    def __init__(self, fills: FillRepository, tx: TransactionManager) -> None:
        self._fills = fills
        self._tx = tx

    async def __call__(self, items: Sequence[tuple[ExchangeAccount, Sequence[FillEvent]]]) -> int:
        """Stores the fills of orders Mimic sent among `items`; returns how many were new.
        A fill of any other order is left to `RecordAccountFills` (it may be a TP/SL that
        fired, with an order row and a notice to add)."""
        new = [
            (account.id, account.user_id, event.fill)
            for account, events in items
            for event in events
            if sent_by_mimic(event)
        ]
        if not new:
            return 0
        added = await self._fills.add_new(new)
        await self._tx.commit()
        return added
