"""Native TP/SL orders on the exchange for a position Mimic opened, and their removal.

Used right after an entry fills (ExecuteSignal), after a DCA add moved the average entry,
and after a close. A failure to protect is recorded on the entry's intent and notified,
never silently lost.
"""

import contextlib
import logging
from decimal import Decimal

from mimic.domain.errors import DuplicateClientOrderId, ExchangeError, InvalidField
from mimic.domain.orders import IntentStatus, OrderIntent, OrderLeg, OrderSide
from mimic.domain.positions import PositionSide
from mimic.domain.protection import (
    check_protective_prices,
    protective_prefix,
    protective_prices,
)
from mimic.ports.exchange import ExchangeGateway
from mimic.ports.services import Notifier

log = logging.getLogger(__name__)

PROTECTION_FAILED = "position.protection_failed"


class PositionProtection:
    def __init__(self, notifier: Notifier) -> None:
        self._notifier = notifier

    async def after_fill(self, intent: OrderIntent, gateway: ExchangeGateway) -> None:
        """The step ExecuteSignal runs for each order of a signal that filled."""
        if intent.status is not IntentStatus.FILLED:
            return
        if intent.leg is OrderLeg.CLOSE:
            await self.release(intent, gateway)
        elif intent.leg is OrderLeg.ENTRY and intent.average_price is not None:
            # Exchanges do not cancel the other leg when a TP/SL fires: a leftover
            # closePosition order of an earlier position would close this one.
            released = await self.release(intent, gateway)
            leftover = intent.protection_error
            protected = await self.protect(intent, gateway, entry_price=intent.average_price)
            if protected and not released:
                intent.protection_error = leftover

    async def protect(
        self,
        entry: OrderIntent,
        gateway: ExchangeGateway,
        *,
        entry_price: Decimal,
        revision: int = 0,
        notify_failure: bool = True,
    ) -> bool:
        """Place the entry's TP/SL around `entry_price`; records the outcome on `entry`.

        `revision` > 0 re-places them after a DCA add (the old ones must be cancelled
        first). Returns whether the position is protected as asked; a failure is notified
        unless `notify_failure` is False (a retry of a failure already notified).
        """
        if entry.tp_perc is None and entry.sl_perc is None:
            return True
        side = PositionSide.LONG if entry.side is OrderSide.BUY else PositionSide.SHORT
        try:
            rules = await gateway.market_rules(entry.symbol)
            prices = protective_prices(
                side,
                entry_price,
                tp_perc=entry.tp_perc,
                sl_perc=entry.sl_perc,
                tick_size=rules.tick_size,
            )
            check_protective_prices(side, await gateway.fetch_mark_price(entry.symbol), prices)
            prefix = protective_prefix(entry.client_order_id, revision)
            # One leg per request: after a partial earlier attempt, the leg it placed
            # answers "duplicate id" and the other one is still placed.
            for stop, take in ((prices.stop_loss, None), (None, prices.take_profit)):
                if stop is None and take is None:
                    continue
                with contextlib.suppress(DuplicateClientOrderId):
                    await gateway.place_protective_orders(entry.symbol, side, stop, take, prefix)
        except (ExchangeError, InvalidField) as exc:
            reason = exc.reason if isinstance(exc, ExchangeError) else str(exc)
            entry.protection_error = f"take-profit / stop-loss not placed: {reason}"
            log.warning("%s: %s", entry.client_order_id, entry.protection_error)
            if notify_failure:
                await self._notifier.notify(
                    entry.user_id,
                    PROTECTION_FAILED,
                    f"Your {side} {entry.symbol} position is NOT protected: "
                    f"{entry.protection_error}",
                )
            return False
        entry.stop_loss_price = prices.stop_loss
        entry.take_profit_price = prices.take_profit
        entry.protection_error = None
        return True

    async def release(self, order: OrderIntent, gateway: ExchangeGateway) -> bool:
        """Whatever TP/SL of Mimic is left on the order's symbol goes (idempotent).

        Returns False, with the reason on `order`, when the exchange did not confirm it.
        """
        try:
            await gateway.cancel_protective_orders(order.symbol)
        except ExchangeError as exc:
            order.protection_error = f"take-profit / stop-loss not cancelled: {exc.reason}"
            log.warning("%s: %s", order.client_order_id, order.protection_error)
            return False
        return True
