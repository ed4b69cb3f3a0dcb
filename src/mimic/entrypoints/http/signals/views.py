"""Signals and what each did to each account, as the routes show them."""

from collections.abc import Mapping

from mimic.application.signal_reports import SignalReport
from mimic.domain.fidelity import CopyFidelity
from mimic.domain.signal import Signal
from mimic.entrypoints.http.contract import iso
from mimic.entrypoints.http.portfolio.views import order_out
from mimic.entrypoints.http.signals.schemas import (
    AccountOutcomeOut,
    CopyOut,
    SignalOut,
    SignalReportOut,
)


def signal_out(value: Signal, source_names: Mapping[str, str]) -> SignalOut:
    params = value.params
    return SignalOut(
        id=value.id,
        source_id=value.source_id,
        source_name=source_names.get(value.source_id),
        symbol=params.symbol,
        action=params.action.value,
        risk_perc=params.risk_perc,
        leverage=params.leverage,
        tp_perc=params.tp_perc,
        sl_perc=params.sl_perc,
        external_id=params.external_id,
        equity_fraction=params.mirrored.equity_fraction if params.mirrored else None,
        close_fraction=params.mirrored.close_fraction if params.mirrored else None,
        status=value.status.value,
        received_at=value.received_at.isoformat(),
        reference_price=value.reference_price,
        reference_at=iso(value.reference_at),
    )


def copy_out(value: CopyFidelity) -> CopyOut:
    return CopyOut(
        order_id=value.intent_id,
        leg=value.leg,
        side=value.side.value,
        reference_price=value.reference_price,
        acknowledged_at=iso(value.acknowledged_at),
        fill_price=value.fill_price,
        latency_ms=value.latency_ms,
        slippage_bps=value.slippage_bps,
    )


def signal_report_out(report: SignalReport, source_names: Mapping[str, str]) -> SignalReportOut:
    return SignalReportOut(
        signal=signal_out(report.signal, source_names),
        counts=report.counts,
        accounts=[
            AccountOutcomeOut(
                exchange_account_id=outcome.account_id,
                user_id=outcome.user_id,
                status=outcome.status,
                reason=outcome.reason,
                orders=[order_out(o) for o in outcome.orders],
                copies=[copy_out(c) for c in outcome.copies],
            )
            for outcome in report.accounts
        ],
    )
