"""Placing one batch of a fan-out's claimed intents: per account, a flip's close before its
entry (the entry waits for it, and is dropped if it failed), TP/SL after each fill, at
most the exchange's limit of accounts at a time. Sending itself is the order sender's."""

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence

from mimic.application import work_context
from mimic.application.exchange_concurrency import ExchangeConcurrency
from mimic.application.order_sender import FANOUT, OrderSender, SendLimits
from mimic.application.position_protection import PositionProtection
from mimic.domain.accounts import ExchangeAccount
from mimic.domain.errors import ExchangeError
from mimic.domain.orders import IntentStatus, OrderIntent, OrderLeg
from mimic.ports.exchange import ExchangeGateways
from mimic.ports.services import Clock

LEG_ORDER = {OrderLeg.CLOSE: 0, OrderLeg.ENTRY: 1}


class FanoutPlacer:
    def __init__(
        self,
        gateways: ExchangeGateways,
        protection: PositionProtection,
        clock: Clock,
        concurrency: ExchangeConcurrency,
    ) -> None:
        self._gateways = gateways
        self._protection = protection
        self._clock = clock
        self._concurrency = concurrency
        self._sender = OrderSender(clock)

    async def __call__(
        self,
        claimed: Sequence[OrderIntent],
        all_intents: Sequence[OrderIntent],
        deadline: float,
        accounts: Mapping[str, ExchangeAccount],
        too_old: Callable[[], str | None],
    ) -> None:
        """Sends `claimed` (held by this worker) until `deadline` (time.monotonic);
        `too_old()` says why an order must not go out any more (the signal expired)."""
        by_account: dict[str, list[OrderIntent]] = defaultdict(list)
        for intent in claimed:
            by_account[intent.account_id].append(intent)
        earlier_legs: dict[str, list[OrderIntent]] = defaultdict(list)
        claimed_ids = {i.id for i in claimed}
        limits = SendLimits(deadline, too_old)
        for intent in all_intents:
            if intent.id not in claimed_ids:
                earlier_legs[intent.account_id].append(intent)

        async def run_account(item: tuple[str, list[OrderIntent]]) -> None:
            account_id, legs = item
            work_context.working_on_account(account_id)  # this sender's task: one at a time
            account = accounts.get(account_id)
            now = self._clock.now()
            if account is None:
                for intent in legs:
                    intent.skip("exchange connection was deleted", now)
                return
            try:
                gateway = await self._gateways.for_account(account)
            except ExchangeError as exc:
                for intent in legs:
                    intent.retry_later(exc.reason, self._clock.now())
                return
            previous = earlier_legs[account_id]
            for intent in sorted(legs, key=lambda i: LEG_ORDER[i.leg]):
                blocker = _unfilled_close(previous)
                if blocker is None:
                    await self._sender.send(intent, gateway, FANOUT, limits)
                    await self._protection.after_fill(intent, gateway)
                elif blocker.status.is_final:
                    intent.skip(
                        "the opposite position could not be closed first", self._clock.now()
                    )
                else:
                    intent.retry_later(
                        "waiting for the close of the opposite position", self._clock.now()
                    )
                previous.append(intent)

        def exchange_of(item: tuple[str, list[OrderIntent]]) -> str:
            account = accounts.get(item[0])
            return "" if account is None else account.exchange

        await self._concurrency.run(list(by_account.items()), exchange_of, run_account)


def _unfilled_close(legs: Sequence[OrderIntent]) -> OrderIntent | None:
    """The entry of a flip waits for its close leg, and is dropped if the close failed."""
    return next(
        (i for i in legs if i.leg is OrderLeg.CLOSE and i.status is not IntentStatus.FILLED),
        None,
    )
