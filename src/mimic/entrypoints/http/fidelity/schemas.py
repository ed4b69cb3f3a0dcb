"""Wire shapes of copy fidelity: how closely followers copied each signal."""

from decimal import Decimal

import msgspec


class MissedReasonOut(msgspec.Struct):
    reason: str
    count: int


class FidelitySummaryOut(msgspec.Struct):
    copies: int
    latency_p50_ms: int | None
    latency_p95_ms: int | None
    latency_p99_ms: int | None
    slippage_mean_bps: Decimal | None
    slippage_p95_bps: Decimal | None
    missed: int
    missed_reasons: list[MissedReasonOut]


class FollowerFidelityOut(msgspec.Struct):
    user_id: str
    username: str | None
    fidelity: FidelitySummaryOut


class FidelityOut(msgspec.Struct):
    period: str
    since: str
    source_id: str | None
    platform: FidelitySummaryOut
    followers: list[FollowerFidelityOut]
