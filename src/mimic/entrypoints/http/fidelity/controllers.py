"""GET /api/fidelity: a period's copy fidelity (docs/copy-fidelity.md)."""

from decimal import Decimal
from typing import Annotated

import msgspec
from dishka.integrations.litestar import FromDishka
from litestar import Controller, get
from litestar.openapi.spec import OpenAPIType

from mimic.application.copy_fidelity import FidelityReport, ViewCopyFidelity
from mimic.domain.fidelity import FidelityPeriod, FidelitySummary
from mimic.entrypoints.http.contract import SourceQuery, errors, parsed_query
from mimic.entrypoints.http.security import AuthRequest


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


def summary_out(summary: FidelitySummary) -> FidelitySummaryOut:
    return FidelitySummaryOut(
        copies=summary.copies,
        latency_p50_ms=summary.latency_p50_ms,
        latency_p95_ms=summary.latency_p95_ms,
        latency_p99_ms=summary.latency_p99_ms,
        slippage_mean_bps=summary.slippage_mean_bps,
        slippage_p95_bps=summary.slippage_p95_bps,
        missed=summary.missed,
        missed_reasons=[MissedReasonOut(m.reason, m.count) for m in summary.missed_reasons],
    )


def fidelity_out(report: FidelityReport) -> FidelityOut:
    return FidelityOut(
        period=report.period.value,
        since=report.since.isoformat(),
        source_id=report.source_id,
        platform=summary_out(report.platform),
        followers=[
            FollowerFidelityOut(f.user_id, f.username, summary_out(f.summary))
            for f in report.followers
        ],
    )


class FidelityController(Controller):
    path = "/api/fidelity"

    @get("/", operation_id="get_copy_fidelity", responses=errors(422))
    async def fidelity(
        self,
        request: AuthRequest,
        view: FromDishka[ViewCopyFidelity],
        period: Annotated[
            str, parsed_query(type=OpenAPIType.STRING, enum=[p.value for p in FidelityPeriod])
        ] = FidelityPeriod.WEEK.value,
        source: SourceQuery = None,
    ) -> FidelityOut:
        """Latency and slippage percentiles and misses: platform-wide, and per follower
        (every follower for admins, one's own otherwise)."""
        return fidelity_out(await view(request.user, period, source))
