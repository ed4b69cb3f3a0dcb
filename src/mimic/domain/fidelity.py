"""Copy fidelity: how closely each follower's fill followed the master's signal.

For one copy (a filled order of a signal on one follower account):
  latency (ms)    = when the exchange acknowledged the fill - when the signal was received
  slippage (bps)  = buy:  (fill price - reference) / reference x 10,000
                    sell: (reference - fill price) / reference x 10,000
The reference is the signal's mark price when received; slippage is signed so that worse
for the follower is positive (a buy filled above it, a sell below it). Basis points are
rounded to 0.01, halves away from zero (as Postgres rounds numerics).

A period's figures: latency p50/p95/p99 (nearest rank), mean and p95 slippage, and the
followers it missed: orders skipped or rejected, counted by reason. A close for a follower
with no position, or an entry for one already holding it, had nothing to copy: no miss.
"""

import enum
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import TypeVar

from mimic.domain.errors import InvalidField
from mimic.domain.orders import IntentStatus, OrderIntent, OrderSide
from mimic.domain.planning import NOTHING_TO_COPY_REASONS

BPS = Decimal(10000)
BPS_PLACES = Decimal("0.01")
Ranked = TypeVar("Ranked", float, Decimal)
# Reasons shown per report, the most frequent first; the rest are counted in `missed`.
MAX_REASONS = 10


class FidelityPeriod(enum.StrEnum):
    WEEK = "7d"
    MONTH = "30d"

    @classmethod
    def parse(cls, text: str) -> "FidelityPeriod":
        try:
            return cls(text)
        except ValueError:
            raise InvalidField("period", "must be 7d or 30d") from None

    @property
    def length(self) -> timedelta:
        return timedelta(days=7 if self is FidelityPeriod.WEEK else 30)


def latency_ms(received_at: datetime, acknowledged_at: datetime) -> int:
    """Milliseconds from the signal's receipt to the exchange's acknowledgement."""
    return round((acknowledged_at - received_at) / timedelta(milliseconds=1))


def slippage_bps(side: OrderSide, reference: Decimal, fill: Decimal) -> Decimal:
    """Basis points against the reference, positive when the fill is worse for the follower."""
    if reference <= 0:
        raise InvalidField("reference_price", "must be greater than 0")
    moved = fill - reference if side is OrderSide.BUY else reference - fill
    return (moved / reference * BPS).quantize(BPS_PLACES, ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class CopyFidelity:
    """One filled order of a signal, set against the signal's reference."""

    account_id: str
    user_id: str
    intent_id: str
    leg: str
    side: OrderSide
    reference_price: Decimal | None
    acknowledged_at: datetime | None
    fill_price: Decimal | None
    latency_ms: int | None
    slippage_bps: Decimal | None


def copy_fidelity(
    intent: OrderIntent, received_at: datetime, reference: Decimal | None
) -> CopyFidelity | None:
    """The copy `intent` made of a signal received at `received_at`; None unless it filled.

    Fills recorded before acknowledgement times were kept have no latency.
    """
    if intent.status is not IntentStatus.FILLED:
        return None
    fill = intent.average_price
    acknowledged = intent.acknowledged_at
    return CopyFidelity(
        account_id=intent.account_id,
        user_id=intent.user_id,
        intent_id=intent.id,
        leg=intent.leg.value,
        side=intent.side,
        reference_price=reference,
        acknowledged_at=acknowledged,
        fill_price=fill,
        latency_ms=None if acknowledged is None else latency_ms(received_at, acknowledged),
        slippage_bps=(
            None
            if reference is None or reference <= 0 or fill is None
            else slippage_bps(intent.side, reference, fill)
        ),
    )


@dataclass(frozen=True, slots=True)
class CopySample:
    """What a period's figures need of one copy (latency None: not acknowledged yet)."""

    user_id: str
    latency_ms: float | None
    slippage_bps: Decimal | None


@dataclass(frozen=True, slots=True)
class OutcomeCount:
    """How many orders of one follower ended `status` for `reason` in a period."""

    user_id: str
    status: IntentStatus
    reason: str | None
    count: int


def is_miss(status: IntentStatus, reason: str | None) -> bool:
    return status in (IntentStatus.SKIPPED, IntentStatus.REJECTED) and (
        reason not in NOTHING_TO_COPY_REASONS
    )


@dataclass(frozen=True, slots=True)
class MissedReason:
    reason: str
    count: int


@dataclass(frozen=True, slots=True)
class CopyStats:
    """Latency and slippage of a set of copies (None where no copy had one)."""

    copies: int = 0
    latency_p50_ms: int | None = None
    latency_p95_ms: int | None = None
    latency_p99_ms: int | None = None
    slippage_mean_bps: Decimal | None = None
    slippage_p95_bps: Decimal | None = None


NO_COPIES = CopyStats()


@dataclass(frozen=True, slots=True)
class StatsByFollower:
    platform: CopyStats
    followers: dict[str, CopyStats]


@dataclass(frozen=True, slots=True)
class FidelitySummary:
    copies: int
    latency_p50_ms: int | None
    latency_p95_ms: int | None
    latency_p99_ms: int | None
    slippage_mean_bps: Decimal | None
    slippage_p95_bps: Decimal | None
    missed: int
    missed_reasons: list[MissedReason]


def percentile(ordered: Sequence[Ranked], share: float) -> Ranked | None:
    """Nearest rank: the smallest value with at least `share` % of them at or below it."""
    if not ordered:
        return None
    rank = max(1, math.ceil(share / 100 * len(ordered)))
    return ordered[rank - 1]


def whole_ms(value: float | None) -> int | None:
    return None if value is None else round(value)


def in_bps(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(BPS_PLACES, ROUND_HALF_UP)


def mean(values: Sequence[Decimal]) -> Decimal | None:
    return sum(values, Decimal(0)) / len(values) if values else None


def copy_stats(copies: Sequence[CopySample]) -> CopyStats:
    latencies = sorted(c.latency_ms for c in copies if c.latency_ms is not None)
    slippages = sorted(c.slippage_bps for c in copies if c.slippage_bps is not None)
    return CopyStats(
        copies=len(copies),
        latency_p50_ms=whole_ms(percentile(latencies, 50)),
        latency_p95_ms=whole_ms(percentile(latencies, 95)),
        latency_p99_ms=whole_ms(percentile(latencies, 99)),
        slippage_mean_bps=in_bps(
            sum(slippages, Decimal(0)) / len(slippages) if slippages else None
        ),
        slippage_p95_bps=percentile(slippages, 95),
    )


def stats_by_follower(copies: Sequence[CopySample]) -> StatsByFollower:
    copies_of: dict[str, list[CopySample]] = defaultdict(list)
    for sample in copies:
        copies_of[sample.user_id].append(sample)
    return StatsByFollower(
        platform=copy_stats(copies),
        followers={user: copy_stats(samples) for user, samples in copies_of.items()},
    )


def summarize(stats: CopyStats, outcomes: Iterable[OutcomeCount]) -> FidelitySummary:
    reasons: Counter[str] = Counter()
    for outcome in outcomes:
        if is_miss(outcome.status, outcome.reason):
            reasons[outcome.reason or outcome.status.value] += outcome.count
    return FidelitySummary(
        copies=stats.copies,
        latency_p50_ms=stats.latency_p50_ms,
        latency_p95_ms=stats.latency_p95_ms,
        latency_p99_ms=stats.latency_p99_ms,
        slippage_mean_bps=stats.slippage_mean_bps,
        slippage_p95_bps=stats.slippage_p95_bps,
        missed=sum(reasons.values()),
        missed_reasons=[MissedReason(r, n) for r, n in reasons.most_common(MAX_REASONS)],
    )


def summarize_by_follower(
    stats: StatsByFollower, outcomes: Sequence[OutcomeCount]
) -> dict[str, FidelitySummary]:
    """Each follower's figures, for every follower with a copy or an outcome, by user id."""
    outcomes_of: dict[str, list[OutcomeCount]] = defaultdict(list)
    for outcome in outcomes:
        outcomes_of[outcome.user_id].append(outcome)
    followers = sorted(stats.followers.keys() | outcomes_of.keys())
    return {
        u: summarize(stats.followers.get(u, NO_COPIES), outcomes_of.get(u, [])) for u in followers
    }
