"""Trades, balance history, standings and previews as the routes and pages show them."""

from collections.abc import Mapping
from decimal import Decimal

from mimic.application.preview_signal import SignalPreview
from mimic.domain.performance import BalanceSnapshot, ClosedTrade, Standing
from mimic.entrypoints.http.performance.schemas import (
    AccountPreviewOut,
    BalanceSnapshotOut,
    PreviewLegOut,
    SignalPreviewOut,
    StandingOut,
    TradeOut,
)


def _q(value: Decimal) -> Decimal:
    """Eight decimals at most, as exchanges report money, without trailing zeros."""
    rounded = value.quantize(Decimal("0.00000001"))
    return Decimal(format(rounded.normalize(), "f"))


def _q_or_none(value: Decimal | None) -> Decimal | None:
    return None if value is None else _q(value)


def trade_out(t: ClosedTrade, source_names: Mapping[str, str]) -> TradeOut:
    return TradeOut(
        exchange_account_id=t.account_id,
        symbol=t.symbol,
        side=t.side.value,
        quantity=t.quantity,
        entry_price=_q(t.entry_price),
        exit_price=_q(t.exit_price),
        realized_pnl=_q(t.realized_pnl),
        fees=_q(t.fees),
        net_pnl=_q(t.net_pnl),
        roi_perc=_q(t.roi_perc),
        opened_at=t.opened_at.isoformat(),
        closed_at=t.closed_at.isoformat(),
        source_id=t.source_id,
        source_name=None if t.source_id is None else source_names.get(t.source_id),
    )


def snapshot_out(s: BalanceSnapshot) -> BalanceSnapshotOut:
    return BalanceSnapshotOut(
        exchange_account_id=s.account_id,
        hour=s.hour.isoformat(),
        currency=s.currency,
        wallet_balance=s.wallet_balance,
        equity=s.equity,
        taken_at=s.taken_at.isoformat(),
    )


def standing_out(rank: int, s: Standing) -> StandingOut:
    return StandingOut(
        rank=rank,
        username=s.username,
        roi_perc=_q(s.roi_perc),
        pnl=_q(s.pnl),
        win_rate_perc=_q(s.win_rate_perc),
        max_drawdown_perc=_q(s.max_drawdown_perc),
        trades=s.trades,
    )


def preview_out(preview: SignalPreview) -> SignalPreviewOut:
    params = preview.params
    accounts = []
    for p in preview.accounts:
        skipped = next((leg.skip_reason for leg in p.legs if leg.skip_reason), None)
        accounts.append(
            AccountPreviewOut(
                exchange_account_id=p.account.id,
                exchange=p.account.exchange,
                username=p.username,
                status="would_send" if p.would_send else "skipped",
                reason=skipped,
                mark_price=_q_or_none(p.mark_price),
                take_profit_price=_q_or_none(p.take_profit),
                stop_loss_price=_q_or_none(p.stop_loss),
                orders=[
                    PreviewLegOut(
                        leg=leg.leg.value,
                        side=leg.side.value,
                        quantity=_q(leg.quantity),
                        reduce_only=leg.reduce_only,
                        leverage=leg.leverage,
                        skip_reason=leg.skip_reason,
                    )
                    for leg in p.legs
                ],
            )
        )
    return SignalPreviewOut(
        symbol=params.symbol,
        action=params.action.value,
        risk_perc=params.risk_perc,
        leverage=params.leverage,
        tp_perc=params.tp_perc,
        sl_perc=params.sl_perc,
        accounts=accounts,
    )
