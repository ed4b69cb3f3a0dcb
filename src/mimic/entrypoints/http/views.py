"""Domain objects to wire shapes; the only place that knows both."""

from datetime import datetime

from mimic.application.portfolio import AccountBalance, AccountPositions
from mimic.application.signal_reports import SignalReport
from mimic.domain.accounts import ExchangeAccount, User
from mimic.domain.orders import OrderIntent
from mimic.domain.risk import PlatformRiskSettings, leverage_cap, risk_cap
from mimic.domain.signal import Signal
from mimic.entrypoints.http import schemas


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def profile(user: User, platform: PlatformRiskSettings) -> schemas.ProfileOut:
    return schemas.ProfileOut(
        id=user.id,
        username=user.username,
        email=user.email,
        role=user.role.value,
        active=user.active,
        settings=schemas.FollowerSettingsOut(
            risk_perc=user.settings.risk_perc,
            leverage=user.settings.leverage,
            paused=user.settings.paused,
        ),
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


def order(intent: OrderIntent) -> schemas.OrderOut:
    return schemas.OrderOut(
        id=intent.id,
        signal_id=intent.signal_id,
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
        updated_at=_iso(intent.updated_at),
    )


def signal(value: Signal) -> schemas.SignalOut:
    params = value.params
    return schemas.SignalOut(
        id=value.id,
        source_id=value.source_id,
        symbol=params.symbol,
        action=params.action.value,
        risk_perc=params.risk_perc,
        leverage=params.leverage,
        tp_perc=params.tp_perc,
        sl_perc=params.sl_perc,
        external_id=params.external_id,
        status=value.status.value,
        received_at=value.received_at.isoformat(),
    )


def signal_report(report: SignalReport) -> schemas.SignalReportOut:
    return schemas.SignalReportOut(
        signal=signal(report.signal),
        counts=report.counts,
        accounts=[
            schemas.AccountOutcomeOut(
                exchange_account_id=outcome.account_id,
                user_id=outcome.user_id,
                status=outcome.status,
                reason=outcome.reason,
                orders=[order(o) for o in outcome.orders],
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
