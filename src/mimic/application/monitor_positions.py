"""The position monitor: trailing stops and DCA for open positions, one round at a time.

A round reads what it watches (`monitored_positions.PositionReader`: the positions Mimic
opened for followers with trailing or DCA enabled, their orders since, prices, the
accounts' positions), then for each position:

- an order stored but not settled is claimed (`monitor_orders.MonitorOrders`) and sent
  again by the leg it belongs to;
- a position that is gone: the native TP/SL fill that closed it is recorded and notified
  (`protective_fills.ProtectiveFills`);
- TP/SL that failed after the entry are placed again (`protective_fills.ProtectiveFills`);
- the trailing stop ratchets and, when hit, closes the position (`trailing_stops`);
- a DCA add to a losing position within the follower's caps (`dca_adds`).

Every order is an intent stored before it is sent, with an id derived from the entry, so
two workers, or a worker restarted in the middle, send it once: the one that inserts it
holds its lease, and a resend is preceded by a lookup of its client order id.
"""

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from mimic.application.dca_adds import DcaAdds
from mimic.application.monitor_orders import MonitorOrders, MonitorReport
from mimic.application.monitored_positions import PositionReader, WatchedPosition
from mimic.application.position_protection import PositionProtection
from mimic.application.protective_fills import ProtectiveFills
from mimic.application.trailing_stops import TrailingStops
from mimic.domain.dca import DcaParams
from mimic.domain.orders import IntentStatus, OrderIntent, OrderLeg
from mimic.domain.positions import Position
from mimic.domain.risk import risk_cap
from mimic.ports.exchange import ExchangeGateway, ExchangeGateways
from mimic.ports.live_events import LiveEvents
from mimic.ports.protection import PositionIntentRepository, PriceFeeds, TrailingStateStore
from mimic.ports.repositories import (
    ExchangeAccountRepository,
    OrderIntentRepository,
    SettingsRepository,
    TransactionManager,
)
from mimic.ports.services import Clock, Notifier


@dataclass(frozen=True, slots=True)
class MonitorPolicy:
    lease: timedelta = timedelta(seconds=60)
    concurrency: int = 32  # accounts whose positions are read at once, per exchange


class MonitorPositions:
    def __init__(
        self,
        accounts: ExchangeAccountRepository,
        position_intents: PositionIntentRepository,
        intents: OrderIntentRepository,
        settings: SettingsRepository,
        gateways: ExchangeGateways,
        feeds: PriceFeeds,
        trailing: TrailingStateStore,
        protection: PositionProtection,
        notifier: Notifier,
        tx: TransactionManager,
        clock: Clock,
        policy: MonitorPolicy,
        live: LiveEvents,
    ) -> None:
        self._settings = settings
        self._reader = PositionReader(
            accounts, position_intents, gateways, feeds, tx, policy.concurrency
        )
        self._orders = orders = MonitorOrders(
            position_intents, intents, notifier, tx, clock, policy.lease
        )
        self._fills = ProtectiveFills(
            position_intents, trailing, protection, notifier, tx, clock, orders
        )
        self._trailing_stops = TrailingStops(trailing, protection, notifier, live, clock, orders)
        self._dca = DcaAdds(position_intents, protection, notifier, tx, clock, orders)

    async def __call__(self) -> MonitorReport:
        report = MonitorReport()
        watched = await self._reader.read()
        if not watched:
            return report
        platform = await self._settings.get_platform_risk()
        for item in watched:
            if item.gateway is None:
                continue  # its positions could not be read this round
            unsettled = [
                c
                for c in item.children
                if not c.status.is_final and c.leg in (OrderLeg.TRAILING_STOP, OrderLeg.DCA)
            ]
            if unsettled:
                # One order in flight per position: settle it (even if the position is gone:
                # it may be what closed it) before anything else; the next round goes on.
                await self._settle(item, unsettled[0], item.gateway, report)
                continue
            if item.position is None:
                await self._fills.position_gone(item.entry, item.children, item.gateway, report)
                continue
            report.positions += 1
            if item.price is None:
                continue
            await self._watch(
                item,
                item.position,
                item.price,
                item.gateway,
                platform_cap=risk_cap(platform, item.user.caps),
                report=report,
            )
        return report

    async def _settle(
        self,
        item: WatchedPosition,
        child: OrderIntent,
        gateway: ExchangeGateway,
        report: MonitorReport,
    ) -> None:
        """Sends again, as the leg it belongs to, an order a worker left unsettled."""
        claimed = await self._orders.claim(child)
        if claimed is None:
            return  # another worker holds it
        if claimed.leg is OrderLeg.TRAILING_STOP:
            await self._trailing_stops.send(item.entry, claimed, gateway, report)
            return
        same_leg = [c.id for c in item.children if c.leg is child.leg]
        number = same_leg.index(child.id) + 1
        await self._dca.send(item.entry, claimed, number, gateway, report)

    async def _watch(
        self,
        item: WatchedPosition,
        position: Position,
        price: Decimal,
        gateway: ExchangeGateway,
        *,
        platform_cap: Decimal,
        report: MonitorReport,
    ) -> None:
        entry, children = item.entry, item.children
        if any(
            c.leg is OrderLeg.TRAILING_STOP and c.status is IntentStatus.FILLED for c in children
        ):
            return  # closed by its trailing stop; what is open now is someone else's
        if (
            entry.protection_error is not None
            and entry.stop_loss_price is None
            and entry.take_profit_price is None
        ):
            await self._fills.retry_protection(entry, position, children, gateway)
        settings = item.user.protection
        if await self._trailing_stops.follow(
            entry, position, price, settings.trailing, children, gateway, report
        ):
            return
        params = DcaParams.from_settings(settings.dca)
        if params is not None:
            await self._dca.maybe_add(
                entry, position, price, params, children, gateway, platform_cap, report
            )
