"""Domain objects to wire shapes; the only place that knows both."""

from collections.abc import Mapping
from decimal import Decimal

from mimic.application.portfolio import AccountBalance, AccountPositions
from mimic.application.protection_status import PositionProtectionStatus
from mimic.application.signal_reports import SignalReport
from mimic.domain.accounts import ExchangeAccount, User
from mimic.domain.decimals import plain_decimal
from mimic.domain.fidelity import CopyFidelity
from mimic.domain.orders import OrderIntent
from mimic.domain.risk import PlatformRiskSettings, leverage_cap, risk_cap
from mimic.domain.signal import Signal
from mimic.entrypoints.http import schemas
from mimic.entrypoints.http.contract import iso


def follower_settings(user: User) -> schemas.FollowerSettingsOut:
    protection = user.protection
    return schemas.FollowerSettingsOut(
        risk_perc=user.settings.risk_perc,
        leverage=user.settings.leverage,
        paused=user.settings.paused,
        tp_perc=protection.tp_perc,
        sl_perc=protection.sl_perc,
        trailing=schemas.TrailingSettingsOut(
            enabled=protection.trailing.enabled,
            activation_perc=protection.trailing.activation_perc,
            callback_perc=protection.trailing.callback_perc,
        ),
        dca=schemas.DcaSettingsOut(
            enabled=protection.dca.enabled,
            trigger_drawdown_perc=protection.dca.trigger_drawdown_perc,
            size_multiplier=protection.dca.size_multiplier,
            max_adds=protection.dca.max_adds,
            spacing_perc=protection.dca.spacing_perc,
            spacing_seconds=protection.dca.spacing_seconds,
        ),
        drawdown_stop_perc=user.guardrails.drawdown_stop_perc,
        close_all_on_drawdown=user.guardrails.close_all_on_drawdown,
        profit_lock_perc=user.guardrails.profit_lock_perc,
        leaderboard_opt_out=user.leaderboard_opt_out,
    )


def profile(user: User, platform: PlatformRiskSettings) -> schemas.ProfileOut:
    return schemas.ProfileOut(
        id=user.id,
        username=user.username,
        email=user.email,
        role=user.role.value,
        active=user.active,
        settings=follower_settings(user),
        caps=schemas.CapsOut(
            max_risk_perc=risk_cap(platform, user.caps),
            max_leverage=leverage_cap(platform, user.caps),
        ),
        referral_code=user.referral_code,
    )


def exchange(account: ExchangeAccount) -> schemas.ExchangeOut:
    return schemas.ExchangeOut(
        id=account.id,
        user_id=account.user_id,
        exchange=account.exchange,
        label=account.label,
        status=account.status.value,
        enabled=account.enabled,
        api_key_masked=account.api_key_masked,
        status_reason=account.status_reason,
        created_at=account.created_at.isoformat(),
        validation_status=account.validation_status.value,
        validation_detail=account.validation_detail,
        validated_at=account.validated_at.isoformat() if account.validated_at else None,
    )


def order(
    intent: OrderIntent,
    source_id: str | None = None,
    source_names: Mapping[str, str] | None = None,
) -> schemas.OrderOut:
    return schemas.OrderOut(
        id=intent.id,
        signal_id=intent.signal_id,
        source_id=source_id,
        source_name=None
        if source_id is None or source_names is None
        else source_names.get(source_id),
        exchange_account_id=intent.account_id,
        symbol=intent.symbol,
        side=intent.side.value,
        leg=intent.leg.value,
        quantity=intent.quantity,
        reduce_only=intent.reduce_only,
        leverage=intent.leverage,
        # A claimed order is still in flight: to a reader it is pending.
        status="pending" if intent.status.value == "submitting" else intent.status.value,
        client_order_id=intent.client_order_id,
        reason=intent.reason,
        exchange_order_id=intent.exchange_order_id,
        filled_quantity=intent.filled_quantity,
        average_price=intent.average_price,
        fee=intent.fee,
        attempts=intent.attempts,
        created_at=intent.created_at.isoformat(),
        updated_at=iso(intent.updated_at),
        stop_loss=intent.stop_loss_price,
        take_profit=intent.take_profit_price,
        protection_error=intent.protection_error,
        parent_id=intent.parent_id,
    )


def signal(value: Signal, source_names: Mapping[str, str]) -> schemas.SignalOut:
    params = value.params
    return schemas.SignalOut(
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


def copy(value: CopyFidelity) -> schemas.CopyOut:
    return schemas.CopyOut(
        order_id=value.intent_id,
        leg=value.leg,
        side=value.side.value,
        reference_price=value.reference_price,
        acknowledged_at=iso(value.acknowledged_at),
        fill_price=value.fill_price,
        latency_ms=value.latency_ms,
        slippage_bps=value.slippage_bps,
    )


def signal_report(report: SignalReport, source_names: Mapping[str, str]) -> schemas.SignalReportOut:
    return schemas.SignalReportOut(
        signal=signal(report.signal, source_names),
        counts=report.counts,
        accounts=[
            schemas.AccountOutcomeOut(
                exchange_account_id=outcome.account_id,
                user_id=outcome.user_id,
                status=outcome.status,
                reason=outcome.reason,
                orders=[order(o) for o in outcome.orders],
                copies=[copy(c) for c in outcome.copies],
            )
            for outcome in report.accounts
        ],
    )


def positions(holdings: list[AccountPositions]) -> list[schemas.PositionOut]:
    return [
        schemas.PositionOut(
            exchange_account_id=held.account.id,
            exchange=held.account.exchange,
            symbol=p.symbol,
            side=p.side.value,
            quantity=p.quantity,
            entry_price=p.entry_price,
            leverage=p.leverage,
            mark_price=p.mark_price,
            unrealized_pnl=p.unrealized_pnl,
        )
        for held in holdings
        for p in held.positions
    ]


def balances(items: list[AccountBalance]) -> list[schemas.BalanceOut]:
    out = []
    for item in items:
        b = item.balance
        out.append(
            schemas.BalanceOut(
                exchange_account_id=item.account.id,
                exchange=item.account.exchange,
                currency=b.currency if b else None,
                wallet_balance=b.wallet_balance if b else None,
                unrealized_pnl=b.unrealized_pnl if b else None,
                equity=b.equity if b else None,
                available=b.available if b else None,
                error=item.error,
            )
        )
    return out


def platform_settings(value: PlatformRiskSettings) -> schemas.PlatformSettingsBody:
    return schemas.PlatformSettingsBody(
        default_risk_perc=value.default_risk_perc,
        default_leverage=value.default_leverage,
        max_risk_perc=value.max_risk_perc,
        max_leverage=value.max_leverage,
    )


def position_protection(
    items: list[PositionProtectionStatus],
) -> list[schemas.PositionProtectionOut]:
    return [
        schemas.PositionProtectionOut(
            exchange_account_id=item.account.id,
            exchange=item.account.exchange,
            symbol=item.position.symbol,
            side=item.position.side.value,
            quantity=item.position.quantity,
            entry_price=item.position.entry_price,
            mark_price=item.position.mark_price,
            entry_order_id=item.entry_order_id,
            stop_loss=item.stop_loss,
            take_profit=item.take_profit,
            protection_error=item.protection_error,
            trailing_enabled=item.trailing_enabled,
            trailing_activation_price=_plain(item.trailing_activation_price),
            trailing_stop=_plain(item.trailing_stop),
            trailing_best_price=item.trailing_best_price,
            dca_enabled=item.dca_enabled,
            dca_adds=item.dca_adds,
        )
        for item in items
    ]


def _plain(value: Decimal | None) -> Decimal | None:
    """Computed prices without padding zeros (66330.00 -> 66330)."""
    return None if value is None else plain_decimal(value)
