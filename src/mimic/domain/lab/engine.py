"""The strategy lab: a master's alerts replayed over candles for every follower.

Each follower trades on its own in-memory book (`LabBook`) with the platform's rules:
`resolve_risk` and `plan_account_orders` size and plan a signal as the fan-out does, TP/SL
come from `protective_prices`, the trailing stop from `TrailingState`, adds from `plan_dca`,
and the daily guardrails from `observe` / `entry_block`, observed at each UTC day's first
candle (as the portfolio sync does at 00:00) and whenever a signal opens a position.

Timing, defined once:
- an alert at time t executes at the open of the first candle opening at or after t;
- inside a candle the price goes open -> low -> high -> close for a long and
  open -> high -> low -> close for a short (the position's worse extreme first), so a stop
  and a target in the same candle count as the stop;
- a level reached on the way fills at that level (the first tick at or beyond it for a
  trailing stop); a candle that opens beyond a level fills at its open;
- every fill is a taker market order: slippage moves its price against the taker, then the
  taker fee is charged on its notional.
"""

import itertools
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal

from mimic.domain.dca import DcaAdd, DcaHistory, DcaParams, DcaSkip, plan_dca
from mimic.domain.errors import InvalidField
from mimic.domain.guardrails import (
    GuardrailDay,
    TripKind,
    entry_block,
    newly_tripped,
    observe,
)
from mimic.domain.lab.accounts import (
    AccountResult,
    LabFollower,
    LabMarket,
    ReplayResult,
    check_alerts,
    master_at_face_value,
    reason_kind,
)
from mimic.domain.lab.book import Costs, FillKind, LabBook, LabPosition, MarginInsufficient
from mimic.domain.lab.candles import CandleSeries
from mimic.domain.lab.timeline import Alert, Event, EventKind, timeline
from mimic.domain.lab.triggers import (
    Reactions,
    beyond,
    candle_time,
    dca_due,
    dca_level,
    next_hit,
    trailing_stop_level,
)
from mimic.domain.payments import skip_entries
from mimic.domain.planning import plan_account_orders
from mimic.domain.positions import PositionSide
from mimic.domain.protection import (
    check_protective_prices,
    protection_percentages,
    protective_prices,
)
from mimic.domain.risk import PlatformRiskSettings, resolve_risk, risk_cap
from mimic.domain.signal import SignalAction, SignalParams
from mimic.domain.trailing import TrailingParams, TrailingState

NO_CANDLE_REASON = "no candle within one candle interval after the alert"
PROTECTION_FAILED_REASON = "take-profit / stop-loss not placed"


def replay(
    market: LabMarket,
    alerts: Sequence[Alert],
    followers: Sequence[LabFollower],
    *,
    platform: PlatformRiskSettings,
    costs: Costs,
    master_equity: Decimal = Decimal(10000),
    samples: int = 1000,
    progress: Callable[[int], None] | None = None,
) -> ReplayResult:
    """Every account walks the same timeline on its own book; `progress(n)` after each."""
    check_alerts(market, alerts)
    events, sample_times = timeline(market.series, alerts, samples)
    master, master_platform = master_at_face_value(master_equity)
    results = [_Trader(market, master, master_platform, costs).run(events)]
    if progress is not None:
        progress(1)
    for follower in followers:
        results.append(_Trader(market, follower, platform, costs).run(events))
        if progress is not None:
            progress(len(results))
    return ReplayResult(master=results[0], followers=results[1:], sample_times=sample_times)


class _Trader:
    """One account replaying the timeline."""

    def __init__(
        self,
        market: LabMarket,
        follower: LabFollower,
        platform: PlatformRiskSettings,
        costs: Costs,
    ) -> None:
        self._market = market
        self._follower = follower
        self._platform = platform
        self._book = LabBook(wallet=follower.equity, costs=costs)
        self._skipped: Counter[str] = Counter()
        self._day: GuardrailDay | None = None
        trailing = follower.protection.trailing
        self._trailing = (
            TrailingParams(trailing.activation_perc, trailing.callback_perc)
            if trailing.enabled
            and trailing.activation_perc is not None
            and trailing.callback_perc is not None
            else None
        )
        self._dca = DcaParams.from_settings(follower.protection.dca)
        cap = risk_cap(platform, follower.caps)  # DCA's limit, as the position monitor's
        self._reactions = {
            symbol: Reactions(rules, self._trailing, self._dca, cap)
            for symbol, rules in market.rules.items()
        }
        self._equity: list[Decimal] = []

    def run(self, events: Sequence[Event]) -> AccountResult:
        guarded = self._follower.guardrails.enabled
        for event in events:
            if event.kind is EventKind.SAMPLE:
                self._advance(event.time_ms)
                self._equity.append(self._book.equity(self._marks(event.time_ms, closes=True)))
            elif event.kind is EventKind.DAY_START:
                if guarded:
                    self._advance(event.time_ms)
                    self._observe_day(event.time_ms)
            elif event.alert is not None:
                self._on_alert(event.alert)
        return AccountResult(
            name=self._follower.name,
            start_equity=self._follower.equity,
            book=self._book,
            skipped=self._skipped,
            equity=self._equity,
            final_equity=self._equity[-1] if self._equity else self._follower.equity,
        )

    # --- between signals ------------------------------------------------------------------

    def _advance(self, time_ms: int) -> None:
        """Every open position reacts to the candles before `time_ms`."""
        for symbol in sorted(self._book.positions):
            position = self._book.positions.get(symbol)
            series = self._market.series[symbol]
            end = series.index_at(time_ms)
            while position is not None and position.next_hit is not None:
                if position.next_hit >= end:
                    break
                self._walk(position, series, position.next_hit)
                position = self._book.positions.get(symbol)

    def _walk(self, position: LabPosition, series: CandleSeries, index: int) -> None:
        candle = series.candles[index]
        long = position.side is PositionSide.LONG
        worse, better = (candle.low, candle.high) if long else (candle.high, candle.low)
        points = (candle.open, candle.open, worse, better, candle.close)
        for start, end in itertools.pairwise(points):
            if not self._move(position, series, index, start, end):
                return
        position.next_hit = next_hit(position, series, index + 1, self._reactions[position.symbol])

    def _move(
        self, position: LabPosition, series: CandleSeries, index: int, start: Decimal, end: Decimal
    ) -> bool:
        """The price goes from `start` to `end` inside candle `index`; False once closed."""
        side = position.side
        rules = self._market.rules[position.symbol]
        at = candle_time(series, index)
        price = start
        while start == end or beyond(side, end, start):  # towards the loss
            stop = position.stop_loss
            trail = trailing_stop_level(position, rules.tick_size)
            due = dca_due(position, self._dca, series, index)
            add = dca_level(position, self._dca, rules.tick_size) if due else None
            reached = [
                (level, rank, kind)
                for rank, (level, kind) in enumerate(
                    (
                        (stop, FillKind.STOP_LOSS),
                        (trail, FillKind.TRAILING_STOP),
                        (add, FillKind.DCA),
                    )
                )
                if level is not None and beyond(side, end, level)
            ]
            if not reached:
                break
            # The first level on the way down (up for a short); a close before an add.
            level, _, kind = min(
                reached, key=lambda r: (-r[0] if side is PositionSide.LONG else r[0], r[1])
            )
            price = level if beyond(side, level, price) else price
            if kind is FillKind.DCA:
                self._add(position, series, index, price)
                continue
            if kind is FillKind.TRAILING_STOP and self._trailing is not None and position.trailing:
                position.trailing = position.trailing.advance(price, self._trailing)
            self._book.close(position.symbol, price, at=at, kind=kind)
            return False
        if start == end or beyond(side, start, end):  # towards the profit
            take = position.take_profit
            if take is not None and beyond(side, take, end):
                fill = take if beyond(side, start, take) else start
                self._book.close(position.symbol, fill, at=at, kind=FillKind.TAKE_PROFIT)
                return False
            if self._trailing is not None and position.trailing is not None:
                position.trailing = position.trailing.advance(end, self._trailing)
        return True

    def _add(self, position: LabPosition, series: CandleSeries, index: int, price: Decimal) -> None:
        assert self._dca is not None
        assert position.dca is not None
        at = candle_time(series, index)
        marks = self._marks(series.times[index], closes=False) | {position.symbol: price}
        decision = plan_dca(
            position=position.as_position(price),
            mark_price=price,
            params=self._dca,
            history=position.dca,
            now=at,
            rules=self._market.rules[position.symbol],
            available_margin=self._book.available(marks),
            equity=self._book.equity(marks),
            risk_cap_perc=self._reactions[position.symbol].risk_cap_perc,
        )
        if decision is None:
            position.dca_blocked_before = index + 1  # not due after all: look again later
            return
        if isinstance(decision, DcaSkip):
            self._skip(decision.reason)
            position.dca_stopped = True  # as the monitor: a refused add ends DCA
            return
        assert isinstance(decision, DcaAdd)
        try:
            self._book.open(
                position.symbol,
                position.side,
                decision.quantity,
                price,
                leverage=position.leverage,
                at=at,
                marks=marks,
                kind=FillKind.DCA,
            )
        except MarginInsufficient as exc:
            self._skip(str(exc))
            position.dca_stopped = True
            return
        fill_price = self._book.fills[-1].price
        position.dca = DcaHistory(
            entry_quantity=position.dca.entry_quantity,
            adds=decision.number,
            last_add_price=fill_price,
            last_add_at=at,
        )
        if position.trailing is not None:
            position.trailing = position.trailing.with_entry(position.entry_price)
        self._protect(position, price)

    # --- signals --------------------------------------------------------------------------

    def _on_alert(self, alert: Alert) -> None:
        params = alert.params
        series = self._market.series[params.symbol]
        index = series.index_at(alert.time_ms)
        # Outside the candles, or in a gap of them, there is no price to trade at.
        if index >= len(series) or series.times[index] - alert.time_ms > series.interval:
            self._skip(NO_CANDLE_REASON)
            return
        time_ms = series.times[index]
        self._advance(time_ms)
        at = candle_time(series, index)
        mark = series.candles[index].open
        marks = self._marks(time_ms, closes=False)
        settings = self._follower.settings
        held = self._book.positions.get(params.symbol)
        opening = params.action is not SignalAction.CLOSE and not settings.paused
        equity = self._book.equity(marks) if opening else Decimal(0)
        rules = self._market.rules[params.symbol]
        risk = resolve_risk(
            platform=self._platform,
            caps=self._follower.caps,
            follower=settings,
            signal_risk_perc=params.risk_perc,
            signal_leverage=params.leverage,
            market_max_leverage=rules.max_leverage,
        )
        legs = plan_account_orders(
            action=params.action,
            position=None if held is None else held.as_position(mark),
            paused=settings.paused,
            equity=equity,
            mark_price=mark if opening else Decimal(0),
            rules=rules,
            risk=risk,
        )
        if opening and self._follower.guardrails.enabled:
            blocked = self._observe(equity, time_ms)
            if blocked is not None:
                legs = skip_entries(legs, blocked)
        for leg in legs:
            if leg.skip_reason is not None:
                self._skip(leg.skip_reason)
            elif params.symbol in self._book.positions and leg.reduce_only:
                self._book.close(params.symbol, mark, at=at, kind=FillKind.CLOSE)
            elif leg.leverage is not None:
                self._enter(params, series, index, leg.quantity, leg.leverage, marks)

    def _enter(
        self,
        params: SignalParams,
        series: CandleSeries,
        index: int,
        quantity: Decimal,
        leverage: int,
        marks: dict[str, Decimal],
    ) -> None:
        side = PositionSide.LONG if params.action is SignalAction.LONG else PositionSide.SHORT
        mark = series.candles[index].open
        try:
            position = self._book.open(
                params.symbol,
                side,
                quantity,
                mark,
                leverage=leverage,
                at=candle_time(series, index),
                marks=marks,
            )
        except MarginInsufficient as exc:
            self._skip(str(exc))
            return
        position.tp_perc, position.sl_perc = protection_percentages(
            params.tp_perc, params.sl_perc, self._follower.protection
        )
        position.trailing = TrailingState(side, position.entry_price)
        if self._dca is not None:
            position.dca = DcaHistory(entry_quantity=quantity)
        self._protect(position, mark)
        position.next_hit = next_hit(position, series, index, self._reactions[params.symbol])

    def _protect(self, position: LabPosition, mark: Decimal) -> None:
        """TP/SL around the (average) entry, as PositionProtection places them."""
        if position.tp_perc is None and position.sl_perc is None:
            return
        try:
            prices = protective_prices(
                position.side,
                position.entry_price,
                tp_perc=position.tp_perc,
                sl_perc=position.sl_perc,
                tick_size=self._market.rules[position.symbol].tick_size,
            )
            check_protective_prices(position.side, mark, prices)
        except InvalidField:
            position.stop_loss = position.take_profit = None
            self._skip(PROTECTION_FAILED_REASON)
            return
        position.stop_loss, position.take_profit = prices.stop_loss, prices.take_profit

    # --- daily guardrails -----------------------------------------------------------------

    def _observe_day(self, time_ms: int) -> None:
        self._observe(self._book.equity(self._marks(time_ms, closes=False)), time_ms)

    def _observe(self, equity: Decimal, time_ms: int) -> str | None:
        now = datetime.fromtimestamp(time_ms / 1000, UTC)
        before = self._day
        self._day = observe(
            self._follower.guardrails,
            before,
            account_id=self._follower.name,
            equity=equity,
            now=now,
        )
        trip = newly_tripped(before, self._day)
        if (
            trip is not None
            and trip.kind is TripKind.DRAWDOWN_STOP
            and self._follower.guardrails.close_all_on_drawdown
        ):
            marks = self._marks(time_ms, closes=False)
            for symbol in sorted(self._book.positions):
                self._book.close(symbol, marks[symbol], at=now, kind=FillKind.GUARDRAIL)
        return entry_block(self._day, now)

    # --- helpers --------------------------------------------------------------------------

    def _marks(self, time_ms: int, *, closes: bool) -> dict[str, Decimal]:
        marks = {}
        for symbol in self._book.positions:
            series = self._market.series[symbol]
            if closes:
                marks[symbol] = series.candles[max(series.index_at(time_ms) - 1, 0)].close
            else:
                marks[symbol] = series.price_at(time_ms)
        return marks

    def _skip(self, reason: str) -> None:
        self._skipped[reason_kind(reason)] += 1
