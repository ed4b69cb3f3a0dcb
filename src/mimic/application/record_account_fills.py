"""Exchange-side fills on copied positions, recorded the moment an account's stream (or its
reconciliation) reports them.

Every fill is stored as the account's fill (closed trades are built from these). A fill of
someone else's order on a position Mimic opened (a native TP/SL firing, a liquidation, a
close by hand in the exchange's app) also becomes an order row under that position's
entry, with its leg; the follower is notified and their dashboard told. When it left the
position flat, the leftover protective leg is cancelled and trailing state dropped.

Exactly once: fills are stored under the exchange's fill id, order rows under an id
derived from the exchange's order (a TP/SL under the same id the position monitor uses),
and a notification only follows a row this call inserted. So the stream and the
reconciliation, or an event delivered twice, record it once.
"""

import asyncio
import hashlib
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from mimic.application.monitor_orders import (
    STOP_LOSS_EVENT,
    TAKE_PROFIT_EVENT,
    plain,
)
from mimic.application.position_protection import PositionProtection
from mimic.domain.account_events import AccountEvent, FillEvent, fill_leg, sent_by_mimic
from mimic.domain.accounts import ExchangeAccount
from mimic.domain.errors import ExchangeError
from mimic.domain.orders import (
    IntentStatus,
    OrderFill,
    OrderIntent,
    OrderLeg,
    OrderSide,
    monitor_intent_id,
)
from mimic.domain.protection import protective_prefix
from mimic.ports.exchange import ExchangeGateway, ExchangeGateways
from mimic.ports.live_events import LiveEvent, LiveEvents, user_audience
from mimic.ports.performance import FillRepository
from mimic.ports.protection import PositionIntentRepository, TrailingStateStore
from mimic.ports.repositories import TransactionManager
from mimic.ports.services import Clock, Notifier

log = logging.getLogger(__name__)

LIQUIDATION_EVENT = "position.liquidation"
EXTERNAL_EVENT = "position.external"
_EVENTS = {
    OrderLeg.STOP_LOSS: STOP_LOSS_EVENT,
    OrderLeg.TAKE_PROFIT: TAKE_PROFIT_EVENT,
    OrderLeg.LIQUIDATION: LIQUIDATION_EVENT,
    OrderLeg.EXTERNAL: EXTERNAL_EVENT,
}
RELEASES_AT_ONCE = 16
# Legs with one order per position: the monitor may record them too, under the same id.
_ONE_PER_POSITION = (OrderLeg.STOP_LOSS, OrderLeg.TAKE_PROFIT)


def exchange_order_intent_id(account_id: str, exchange_order_id: str) -> str:
    """The order row of an exchange's order that Mimic did not send: one per order."""
    return hashlib.sha256(f"{account_id}:exchange-order:{exchange_order_id}".encode()).hexdigest()[
        :32
    ]


@dataclass(frozen=True, slots=True)
class FillsRecorded:
    """The order rows a call inserted, the positions their fills left flat (account and
    entry) whose leftover protection is still on the exchange, and why each account whose
    fills were not recorded failed (by account id)."""

    recorded: list[OrderIntent]
    flat: list[tuple[ExchangeAccount, OrderIntent]]
    failed: dict[str, Exception] = field(default_factory=dict)


class RecordAccountFills:
    def __init__(
        self,
        position_intents: PositionIntentRepository,
        fills: FillRepository,
        gateways: ExchangeGateways,
        protection: PositionProtection,
        trailing: TrailingStateStore,
        notifier: Notifier,
        live: LiveEvents,
        tx: TransactionManager,
        clock: Clock,
    ) -> None:
        self._position_intents = position_intents
        self._fills = fills
        self._gateways = gateways
        self._protection = protection
        self._trailing = trailing
        self._notifier = notifier
        self._live = live
        self._tx = tx
        self._clock = clock

    async def __call__(
        self, account: ExchangeAccount, events: Sequence[AccountEvent]
    ) -> list[OrderIntent]:
        """Records the fills among `events` and releases what is left of the protection of
        the positions they left flat; returns the order rows it inserted."""
        outcome = await self.record_many([(account, events)])
        await self.release(outcome.flat)
        return outcome.recorded

    async def record_many_isolated(
        self, batches: Sequence[tuple[ExchangeAccount, Sequence[AccountEvent]]]
    ) -> FillsRecorded:
        """`record_many` in one unit of work; if that fails, again one account at a time,
        so that one account's failure stays its own (in `failed`)."""
        try:
            return await self.record_many(batches)
        except Exception as exc:
            await self._tx.rollback()
            if len(batches) == 1:
                return FillsRecorded([], [], {batches[0][0].id: exc})
        recorded: list[OrderIntent] = []
        flat: list[tuple[ExchangeAccount, OrderIntent]] = []
        failed: dict[str, Exception] = {}
        for account, events in batches:
            try:
                alone = await self.record_many([(account, events)])
            except Exception as exc:
                await self._tx.rollback()
                failed[account.id] = exc
            else:
                recorded += alone.recorded
                flat += alone.flat
        return FillsRecorded(recorded, flat, failed)

    async def record_many(
        self, batches: Sequence[tuple[ExchangeAccount, Sequence[AccountEvent]]]
    ) -> FillsRecorded:
        """Records the fills of several accounts' batches in two transactions whatever
        their number (the fills, then the order rows), notifies and tells the dashboards.
        The protection left on the positions found flat is for `release`, which waits on
        the exchange: recording does not."""
        accounts: list[tuple[ExchangeAccount, list[FillEvent]]] = []
        for account, events in batches:
            fills = sorted(
                (e for e in events if isinstance(e, FillEvent)),
                key=lambda e: (e.fill.executed_at, e.fill.fill_id),
            )
            if fills:
                accounts.append((account, fills))
        if not accounts:
            return FillsRecorded([], [])
        await self._fills.add_new(
            [(a.id, a.user_id, e.fill) for a, fills in accounts for e in fills]
        )
        # The fills of Mimic's own orders (a fan-out's thousand at once) are only stored: their
        # sender recorded the orders, so there is no position to read for them.
        others = [(a, fills) for a, fills in accounts if not all(map(sent_by_mimic, fills))]
        found = await self._position_intents.latest_entries([a.id for a, _ in others])
        entries = {(e.account_id, e.symbol): e for e in found}
        children: dict[str, list[OrderIntent]] = defaultdict(list)
        for child in await self._position_intents.children([e.id for e in found]):
            if child.parent_id is not None:
                children[child.parent_id].append(child)
        await self._tx.commit()  # the fills stand whatever the exchange answers next
        rows: dict[str, _Row] = {}
        for account, fills in others:
            for row in await self._rows(account, fills, entries, children):
                rows.setdefault(row.record.id, row)  # one event delivered twice: one row
        if not rows:
            return FillsRecorded([], [])
        inserted = await self._position_intents.add_many_if_absent(
            [row.record for row in rows.values()]
        )
        await self._tx.commit()
        new = [row for row in rows.values() if row.record.id in inserted]
        flat = [await self._flat(row) for row in new]
        await self._tell(new, flat)
        return FillsRecorded(
            [row.record for row in new],
            [(row.account, row.entry) for row, gone in zip(new, flat, strict=True) if gone],
        )

    async def release(self, flat: Sequence[tuple[ExchangeAccount, OrderIntent]]) -> None:
        """Nothing of Mimic's may outlive a position: the other leg of a TP/SL goes, and
        the trailing state with it. A failure is logged; the position monitor and the
        next entry on the symbol release it again. A few at once: each waits on its
        exchange (and on the request weight left to this address)."""
        todo = iter(flat)

        async def releasing() -> None:
            for account, entry in todo:
                try:
                    gateway = await self._gateways.for_account(account)
                except ExchangeError as exc:
                    log.warning("protection of %s not released: %s", entry.id, exc.reason)
                    continue
                if await self._protection.release(entry, gateway):
                    await self._trailing.discard(entry.id)

        await asyncio.gather(*(releasing() for _ in range(min(len(flat), RELEASES_AT_ONCE))))

    async def _rows(
        self,
        account: ExchangeAccount,
        fills: list[FillEvent],
        entries: dict[tuple[str, str], OrderIntent],
        children: dict[str, list[OrderIntent]],
    ) -> list["_Row"]:
        """The order rows of one account's fills that changed a position Mimic opened."""
        fees: dict[str, Decimal] = defaultdict(Decimal)
        realized: dict[str, Decimal] = defaultdict(Decimal)
        rows: list[_Row] = []
        classify = _Classify(self._gateways, account)
        for event in fills:
            fees[event.order_id] += event.fill.fee
            realized[event.order_id] += event.fill.realized_pnl or Decimal(0)
            entry = entries.get((account.id, event.fill.symbol))
            if entry is None or event.fill.executed_at < entry.created_at:
                continue  # not a position Mimic opened (or an older one's history)
            if not event.order_done:
                continue  # the row records the whole order, once it is done
            try:
                leg = await self._leg(event, entry, children[entry.id], classify)
            except ExchangeError as exc:
                log.warning("fill %s of %s not classified: %s", event.fill.fill_id, account.id, exc)
                continue  # the next reconciliation sees it again
            if leg is None:
                continue  # Mimic's own order: whoever sent it recorded it
            record = self._order_row(entry, leg, event, fees[event.order_id])
            record.reason = _why(entry, leg, event, realized[event.order_id])
            rows.append(_Row(account, entry, record, event, classify))
        return rows

    async def _leg(
        self,
        event: FillEvent,
        entry: OrderIntent,
        children: list[OrderIntent],
        classify: "_Classify",
    ) -> OrderLeg | None:
        leg = fill_leg(event.client_order_id, event.cause)
        if event.client_order_id is not None or leg is not OrderLeg.EXTERNAL:
            return leg
        # A fill read by REST where the venue does not list client ids (Binance's trade
        # history): Mimic's own orders are known by their exchange id, its TP/SL by lookup.
        if any(event.order_id == i.exchange_order_id for i in (entry, *children)):
            return None
        if await self._position_intents.has_exchange_order(entry.account_id, event.order_id):
            return None
        revisions = 1 + sum(
            1 for c in children if c.leg is OrderLeg.DCA and c.status is IntentStatus.FILLED
        )
        gateway = await classify.gateway()
        for revision in range(revisions):
            prefix = protective_prefix(entry.client_order_id, revision)
            for kind, protective_leg in (("sl", OrderLeg.STOP_LOSS), ("tp", OrderLeg.TAKE_PROFIT)):
                found = await gateway.find_order(entry.symbol, prefix + kind)
                if found is not None and found.exchange_order_id == event.order_id:
                    return protective_leg
        return OrderLeg.EXTERNAL

    def _order_row(
        self, entry: OrderIntent, leg: OrderLeg, event: FillEvent, fee: Decimal
    ) -> OrderIntent:
        fill = event.fill
        intent_id = (
            monitor_intent_id(entry.id, leg)
            if leg in _ONE_PER_POSITION
            else exchange_order_intent_id(entry.account_id, event.order_id)
        )
        closing = fill.side is not entry.side
        record = OrderIntent(
            id=intent_id,
            signal_id=None,
            account_id=entry.account_id,
            user_id=entry.user_id,
            leg=leg,
            symbol=fill.symbol,
            side=fill.side,
            quantity=event.order_quantity,
            reduce_only=closing,
            leverage=None,
            client_order_id=(event.client_order_id or event.order_id)[:36],
            created_at=fill.executed_at,
            parent_id=entry.id,
        )
        record.record_fill(
            OrderFill(
                exchange_order_id=event.order_id,
                client_order_id=record.client_order_id,
                symbol=fill.symbol,
                side=fill.side,
                quantity=event.order_quantity,
                average_price=event.order_average_price,
                fee=fee,
                reduce_only=closing,
            ),
            self._clock.now(),
        )
        return record

    async def _flat(self, row: "_Row") -> bool:
        """Whether the fill left the position flat: as the stream told, else as read."""
        if row.event.position_after is not None:
            return row.event.position_after == 0
        try:
            gateway = await row.classify.gateway()
            return await gateway.fetch_position(row.entry.symbol) is None
        except ExchangeError as exc:
            log.warning("position after fill %s not read: %s", row.event.fill.fill_id, exc)
            return False

    async def _tell(self, rows: Sequence["_Row"], flat: Sequence[bool]) -> None:
        notices: list[tuple[str, str, str]] = []
        live: list[tuple[str, LiveEvent]] = []
        for row, gone in zip(rows, flat, strict=True):
            entry, record = row.entry, row.record
            what = "position closed" if gone else "position changed"
            notices.append(
                (entry.user_id, _EVENTS[record.leg], f"{entry.symbol} {what}: {record.reason}")
            )
            audience = user_audience(entry.user_id)
            data = {"intent_id": record.id, "symbol": entry.symbol, "leg": record.leg.value}
            live.append((audience, LiveEvent("order.filled", data)))
            if gone:
                live.append((audience, LiveEvent("position.closed", data)))
        await self._notifier.notify_many(notices)
        await self._live.publish_many(live)


class _Classify:
    """One account's gateway, built only if a fill needs the exchange to be told apart."""

    def __init__(self, gateways: ExchangeGateways, account: ExchangeAccount) -> None:
        self._gateways = gateways
        self._account = account
        self._gateway: ExchangeGateway | None = None

    async def gateway(self) -> ExchangeGateway:
        if self._gateway is None:
            self._gateway = await self._gateways.for_account(self._account)
        return self._gateway


@dataclass(frozen=True, slots=True)
class _Row:
    account: ExchangeAccount
    entry: OrderIntent
    record: OrderIntent
    event: FillEvent
    classify: _Classify


def _why(entry: OrderIntent, leg: OrderLeg, event: FillEvent, pnl: Decimal) -> str:
    """`pnl`: what the order's fills seen in this batch realized."""
    verb = "sold" if event.fill.side is OrderSide.SELL else "bought"
    done = f"{verb} {plain(event.order_quantity)} at {plain(event.order_average_price)}"
    realized = f", realized PnL {plain(pnl)} USDT" if pnl else ""
    if leg is OrderLeg.STOP_LOSS:
        return f"stop-loss hit: trigger {plain(entry.stop_loss_price)}, {done}{realized}"
    if leg is OrderLeg.TAKE_PROFIT:
        return f"take-profit hit: trigger {plain(entry.take_profit_price)}, {done}{realized}"
    if leg is OrderLeg.LIQUIDATION:
        return f"liquidated by the exchange: {done}{realized}"
    return f"an order placed outside Mimic {done}{realized}"
