"""Placing an order: lookup before any resend, unknown outcomes and retry rules, once.

The fan-out, the position monitor, the guardrail close-all and panic all send orders for
intents they stored (and hold) before sending. What differs between them is a
`SendPolicy`, named at the end of this module; the rules are these, for all of them:

- An intent sent before (`attempts > 1`) may exist on the exchange. Before it is sent
  again, past the receive window of the earlier attempt, its absence must be proven: a
  lookup by client id and a search of the account's recent orders (a lookup by client id
  alone is not proof on Binance, where client ids are unique among open orders only).
  Whatever is found is recorded as the fill.
- A request whose outcome is unknown (a timeout, a 5xx, -1007) is never taken as refused:
  it is looked up (as the policy says: at once, or spread over the receive window); if
  nothing turns up the intent stays held ("submitting") and its lease keeps everybody
  from resending it until the window is long past; the resend then goes through the
  proof above. A single "order does not exist" right after the timeout proves nothing: a
  late execution can still appear.
- A definitive refusal is final; a retryable one (rate limit, exchange down) leaves the
  intent pending for a later round, unless the policy has no later round (panic).
"""

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from mimic.domain.errors import ExchangeError, OutcomeUnknown
from mimic.domain.orders import OrderFill, OrderIntent, OrderRequest
from mimic.ports.exchange import ExchangeGateway
from mimic.ports.services import Clock

log = logging.getLogger(__name__)

UNKNOWN_OUTCOME = "outcome unknown ({}); looked up before any resend"
LEASE_RAN_SHORT = "lease ran short before sending"


@dataclass(frozen=True, slots=True)
class SendPolicy:
    """How one kind of caller wants its orders placed; the named values are below."""

    # Sent reduce-only whatever the intent says: it can only shrink a position, so not
    # even a duplicate could open or flip one (close-all, panic).
    closes_only: bool = False
    # Mimic's TP/SL on the symbol are cancelled first (panic: the position goes anyway,
    # and a TP/SL firing at the same time must not open the other way).
    cancels_protection_first: bool = False
    # A retryable refusal leaves the intent pending for a later round. False: refused for
    # good, for callers without a later round (panic reports it; pulling again sends anew).
    retries_later: bool = True
    # The intent's reason (why it is sent: "trailing stop hit at ...") is kept and
    # prefixes whatever happens to it.
    keeps_reason: bool = False
    # Lookups right after an unknown outcome, spread over the receive window (the first
    # at once). 0: none; the next round looks it up, once the lease is over.
    lookups_when_unknown: int = 1


@dataclass(frozen=True, slots=True)
class SendLimits:
    """What a caller that holds intents on a lease adds: nothing goes out once `deadline`
    (time.monotonic) has passed; `expired()` is why the order must not go out any more."""

    deadline: float | None = None
    expired: Callable[[], str | None] = lambda: None


class OrderSender:
    """Places held intents on their exchange and records what happened on each intent."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    async def send(
        self,
        intent: OrderIntent,
        gateway: ExchangeGateway,
        policy: SendPolicy,
        limits: SendLimits | None = None,
    ) -> None:
        """Settle `intent` as far as one attempt can: filled, refused, skipped, pending
        (retry later) or held with its outcome unknown."""
        limits = limits or SendLimits()
        why = intent.reason if policy.keeps_reason else None
        try:
            if self._past(limits):
                # Not even a lookup: the caller must save (release) its batch while it
                # still holds it, or the results would be dropped as stale.
                intent.retry_later(LEASE_RAN_SHORT, self._clock.now())
                return
            if intent.attempts > 1:
                found = await self._found_before_resend(intent, gateway)
                if found is not None:
                    self._filled(intent, found, why)
                    return
            expired = limits.expired()
            if expired is not None:
                intent.skip(expired, self._clock.now())
                return
            if self._past(limits):
                intent.retry_later(LEASE_RAN_SHORT, self._clock.now())
                return
            if policy.cancels_protection_first:
                await self._cancel_protection(intent, gateway)
            fill = await gateway.place_market_order_at_leverage(
                OrderRequest(
                    symbol=intent.symbol,
                    side=intent.side,
                    quantity=intent.quantity,
                    client_order_id=intent.client_order_id,
                    reduce_only=intent.reduce_only or policy.closes_only,
                ),
                intent.leverage,
            )
            self._filled(intent, fill, why)
        except OutcomeUnknown as exc:
            await self._unknown(intent, gateway, policy, exc, why)
        except ExchangeError as exc:
            self._refused(intent, policy, exc, why)

    async def _found_before_resend(
        self, intent: OrderIntent, gateway: ExchangeGateway
    ) -> OrderFill | None:
        """The intent's fill if it executed; None once its absence is proven: a lookup by
        client id and a search of the account's recent orders both came back empty.

        Only called past the receive window of any earlier attempt, as long as leases are
        longer than receive windows (a minute by default against Binance's 10 s): an
        unknown outcome keeps the intent held until its lease runs out, and so does a
        worker that died while sending. Raises the lookups' errors (`OutcomeUnknown`
        while the order is still working).
        """
        found = await gateway.find_order(intent.symbol, intent.client_order_id)
        if found is not None or gateway.lookup_sees_every_order:
            return found
        return await gateway.find_recent_order(intent.symbol, intent.client_order_id)

    async def settle(
        self, held: Sequence[tuple[OrderIntent, ExchangeGateway]], lookups: int
    ) -> None:
        """Look again for orders whose outcome stayed unknown, all together: `lookups`
        rounds spread over the longest receive window, then a search of each account's
        recent orders. What is found is recorded; the rest stays held."""
        if not held or lookups < 1:
            return
        window = max(gateway.receive_window for _, gateway in held)
        for _ in range(lookups):
            unsettled = [(i, g) for i, g in held if not i.status.is_final]
            if not unsettled:
                return
            await self._clock.sleep(window.total_seconds() / lookups)
            for intent, gateway in unsettled:
                await self._record_if_found(intent, gateway, gateway.find_order)
        for intent, gateway in held:
            if not intent.status.is_final and not gateway.lookup_sees_every_order:
                await self._record_if_found(intent, gateway, gateway.find_recent_order)

    # --- what happened ----------------------------------------------------------------

    def _filled(self, intent: OrderIntent, fill: OrderFill, why: str | None) -> None:
        intent.record_fill(fill, self._clock.now())
        if why is not None:
            intent.reason = why

    def _refused(
        self, intent: OrderIntent, policy: SendPolicy, exc: ExchangeError, why: str | None
    ) -> None:
        now = self._clock.now()
        if exc.retryable and policy.retries_later:
            intent.retry_later(_explained(why, exc.reason), now)
        else:
            intent.reject(_explained(why, f"refused: {exc.reason}" if why else exc.reason), now)

    async def _unknown(
        self,
        intent: OrderIntent,
        gateway: ExchangeGateway,
        policy: SendPolicy,
        exc: OutcomeUnknown,
        why: str | None,
    ) -> None:
        if policy.lookups_when_unknown > 0:
            found = await self._look_up_spread(
                intent, gateway, gateway.receive_window, policy.lookups_when_unknown
            )
            if found is not None:
                self._filled(intent, found, why)
                return
        log.warning("order %s outcome unknown: %s", intent.client_order_id, exc.reason)
        intent.await_outcome(_explained(why, UNKNOWN_OUTCOME.format(exc.reason)), self._clock.now())

    # --- plumbing ---------------------------------------------------------------------

    async def _look_up_spread(
        self, intent: OrderIntent, gateway: ExchangeGateway, window: timedelta, lookups: int
    ) -> OrderFill | None:
        """`lookups` lookups, the first at once, the last at the end of `window`; stops at
        the first fill. A lookup that fails or finds the order still working is no answer:
        the next one asks again."""
        for n in range(lookups):
            if n > 0:
                await self._clock.sleep(window.total_seconds() / (lookups - 1))
            try:
                found = await gateway.find_order(intent.symbol, intent.client_order_id)
            except ExchangeError as exc:
                log.info("lookup of %s: %s", intent.client_order_id, exc.reason)
                continue
            if found is not None:
                return found
        return None

    async def _record_if_found(
        self,
        intent: OrderIntent,
        gateway: ExchangeGateway,
        look_up: Callable[[str, str], Awaitable[OrderFill | None]],
    ) -> None:
        try:
            found = await look_up(intent.symbol, intent.client_order_id)
        except ExchangeError:
            return  # no answer is no proof either way: it stays held
        if found is not None:
            intent.record_fill(found, self._clock.now())

    async def _cancel_protection(self, intent: OrderIntent, gateway: ExchangeGateway) -> None:
        try:
            await gateway.cancel_protective_orders(intent.symbol)
        except ExchangeError as exc:  # the close goes out anyway: TP/SL die with the position
            log.warning("cancelling TP/SL of %s failed: %s", intent.symbol, exc.reason)

    @staticmethod
    def _past(limits: SendLimits) -> bool:
        return limits.deadline is not None and time.monotonic() > limits.deadline


def _explained(why: str | None, what: str) -> str:
    return what if why is None else f"{why}; {what}"


# --- the callers' policies ----------------------------------------------------------------

# Signal fan-out: the intent's own reduce-only flag and leverage; one lookup right after an
# unknown outcome (a timeout after execution is found at once), then the lease.
FANOUT = SendPolicy()
# Position monitor (trailing stop, DCA): the reason an order is sent stays on it; an
# unknown outcome waits for the next round, past the lease.
MONITOR = SendPolicy(keeps_reason=True, lookups_when_unknown=0)
# Daily-guardrail close-all: reduce-only closes; an unknown outcome waits for the next sync.
CLOSE_ALL = SendPolicy(closes_only=True, lookups_when_unknown=0)
# Panic: reduce-only closes after cancelling TP/SL, one pass, no later round: retryable
# refusals are reported, and unknown outcomes are settled in the same run (`settle`).
PANIC = SendPolicy(closes_only=True, cancels_protection_first=True, retries_later=False)
