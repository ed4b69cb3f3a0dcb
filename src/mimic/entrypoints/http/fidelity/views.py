"""Copy fidelity as the routes and pages show it."""

from mimic.application.copy_fidelity import FidelityReport
from mimic.domain.fidelity import FidelitySummary
from mimic.entrypoints.http.fidelity.schemas import (
    FidelityOut,
    FidelitySummaryOut,
    FollowerFidelityOut,
    MissedReasonOut,
)


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
