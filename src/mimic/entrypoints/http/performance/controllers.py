"""Trades, balance history, leaderboard, daily guardrails and the pre-flight preview."""

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Annotated

import msgspec
from dishka.integrations.litestar import FromDishka
from litestar import Controller, get, post
from litestar.openapi.spec import OpenAPIType
from litestar.params import FromQuery, Parameter

from mimic.application.performance_reports import MAX_HISTORY, Period, ViewPerformance
from mimic.application.portfolio_sync import SyncPortfolio
from mimic.application.preview_signal import PreviewSignal, SignalPreview
from mimic.domain.alerts import ACTION_WORDS
from mimic.domain.errors import InvalidField
from mimic.domain.performance import BalanceSnapshot, ClosedTrade, Standing, TradeFilters
from mimic.domain.signal import MAX_LEVERAGE
from mimic.entrypoints.http.contract import (
    DECIMAL_PATTERN,
    SourceQuery,
    any_case,
    parsed_query,
)
from mimic.entrypoints.http.portfolio.schemas import OrderOut
from mimic.entrypoints.http.portfolio.views import order_out
from mimic.entrypoints.http.security import AuthRequest, admin_only

MAX_TRADES = 1000


class TradeOut(msgspec.Struct):
    exchange_account_id: str
    symbol: str
    side: str
    quantity: Decimal
    entry_price: Decimal
    exit_price: Decimal
    realized_pnl: Decimal
    fees: Decimal
    net_pnl: Decimal
    roi_perc: Decimal
    opened_at: str
    closed_at: str
    # The source of the signal that opened the trade; None for a trade opened outside Mimic
    # (by hand, or before Mimic recorded which order a fill executed).
    source_id: str | None
    source_name: str | None


class BalanceSnapshotOut(msgspec.Struct):
    exchange_account_id: str
    hour: str
    currency: str
    wallet_balance: Decimal
    equity: Decimal
    taken_at: str


class StandingOut(msgspec.Struct):
    rank: int
    username: str
    roi_perc: Decimal
    pnl: Decimal
    win_rate_perc: Decimal
    max_drawdown_perc: Decimal
    trades: int


class LeaderboardOut(msgspec.Struct):
    period: str
    entries: list[StandingOut]


class GuardrailStatusOut(msgspec.Struct):
    exchange_account_id: str
    day: str
    start_equity: Decimal | None
    tripped: str | None
    reason: str | None
    tripped_at: str | None
    # Shaped like GET /api/orders; `signal_id` is "guardrail:<day>".
    close_orders: list[OrderOut]


class PreviewLegOut(msgspec.Struct):
    leg: str
    side: str
    quantity: Decimal
    reduce_only: bool
    leverage: int | None
    skip_reason: str | None


class AccountPreviewOut(msgspec.Struct):
    exchange_account_id: str
    exchange: str
    username: str
    status: str  # "would_send" | "skipped"
    reason: str | None
    mark_price: Decimal | None
    take_profit_price: Decimal | None
    stop_loss_price: Decimal | None
    orders: list[PreviewLegOut]


class SignalPreviewOut(msgspec.Struct):
    symbol: str
    action: str
    risk_perc: Decimal | None
    leverage: int | None
    tp_perc: Decimal | None
    sl_perc: Decimal | None
    accounts: list[AccountPreviewOut]


class SyncOut(msgspec.Struct):
    accounts: int
    snapshots: int
    fills: int
    trips: int
    closes: int
    errors: int


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


def _snapshot(s: BalanceSnapshot) -> BalanceSnapshotOut:
    return BalanceSnapshotOut(
        exchange_account_id=s.account_id,
        hour=s.hour.isoformat(),
        currency=s.currency,
        wallet_balance=s.wallet_balance,
        equity=s.equity,
        taken_at=s.taken_at.isoformat(),
    )


def _standing(rank: int, s: Standing) -> StandingOut:
    return StandingOut(
        rank=rank,
        username=s.username,
        roi_perc=_q(s.roi_perc),
        pnl=_q(s.pnl),
        win_rate_perc=_q(s.win_rate_perc),
        max_drawdown_perc=_q(s.max_drawdown_perc),
        trades=s.trades,
    )


def _preview(preview: SignalPreview) -> SignalPreviewOut:
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


def _limit(raw: str | None, default: int, upper: int) -> int:
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidField("limit", f"must be a whole number from 1 to {upper}") from None
    if not 1 <= value <= upper:
        raise InvalidField("limit", f"must be a whole number from 1 to {upper}")
    return value


def _since(raw: str | None) -> datetime | None:
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidField("since", "must be an ISO 8601 time, e.g. 2024-05-01T00:00:00Z") from None
    if value.tzinfo is None:
        raise InvalidField("since", "must carry a timezone, e.g. 2024-05-01T00:00:00Z")
    return value


class PerformanceController(Controller):
    path = "/api"

    @get("/trades", operation_id="list_trades")
    async def trades(
        self,
        request: AuthRequest,
        performance: FromDishka[ViewPerformance],
        limit: Annotated[
            str | None, parsed_query(type=OpenAPIType.INTEGER, minimum=1, maximum=MAX_TRADES)
        ] = None,
        source: SourceQuery = None,
    ) -> list[TradeOut]:
        """Newest first; `source`: only the trades that source's signals opened."""
        count = _limit(limit, 200, MAX_TRADES)
        filters = TradeFilters(source_id=source)
        found = await performance.trades(request.user.id, limit=count, filters=filters)
        names = await performance.source_names()
        return [trade_out(t, names) for t in found]

    @get("/balance/history", operation_id="balance_history")
    async def balance_history(
        self,
        request: AuthRequest,
        performance: FromDishka[ViewPerformance],
        since: Annotated[
            str | None, parsed_query(type=OpenAPIType.STRING, format="date-time")
        ] = None,
        limit: Annotated[
            str | None, parsed_query(type=OpenAPIType.INTEGER, minimum=1, maximum=MAX_HISTORY)
        ] = None,
    ) -> list[BalanceSnapshotOut]:
        history = await performance.balance_history(
            request.user.id, since=_since(since), limit=_limit(limit, 24 * 30, MAX_HISTORY)
        )
        return [_snapshot(s) for s in history]

    @get("/leaderboard", operation_id="leaderboard")
    async def leaderboard(
        self,
        performance: FromDishka[ViewPerformance],
        period: Annotated[str, Parameter(schema_extra={"enum": [p.value for p in Period]})] = "30d",
        source: SourceQuery = None,
    ) -> LeaderboardOut:
        """`source`: followers ranked over the trades that source's signals opened."""
        chosen = Period.parse(period)
        standings = await performance.leaderboard(chosen, source)
        return LeaderboardOut(
            period=chosen.value,
            entries=[_standing(rank, s) for rank, s in enumerate(standings, start=1)],
        )

    @get("/guardrails", operation_id="my_guardrails")
    async def guardrails(
        self, request: AuthRequest, performance: FromDishka[ViewPerformance]
    ) -> list[GuardrailStatusOut]:
        out = []
        for status in await performance.guardrails(request.user.id):
            day = status.stored
            trip = day.trip if day else None
            out.append(
                GuardrailStatusOut(
                    exchange_account_id=status.account_id,
                    day=status.day.isoformat(),
                    start_equity=day.start_equity if day else None,
                    tripped=trip.kind.value if trip else None,
                    reason=trip.reason if trip else None,
                    tripped_at=trip.at.isoformat() if trip else None,
                    close_orders=[order_out(c) for c in status.closes],
                )
            )
        return out


DecimalQuery = Annotated[str | None, parsed_query(type=OpenAPIType.STRING, pattern=DECIMAL_PATTERN)]


class SignalPreviewController(Controller):
    """Not under the admin-only signal controller: a follower previews their own accounts.
    Its static path wins over `/api/signals/{signal_id}`."""

    path = "/api/signals/preview"

    @get("/", operation_id="preview_signal")
    async def preview(
        self,
        request: AuthRequest,
        preview: FromDishka[PreviewSignal],
        symbol: Annotated[
            str | None, parsed_query(required=True, type=OpenAPIType.STRING, min_length=1)
        ] = None,
        action: Annotated[
            str | None, parsed_query(type=OpenAPIType.STRING, pattern=any_case(*ACTION_WORDS))
        ] = None,
        risk_perc: Annotated[
            str | None, parsed_query(type=OpenAPIType.STRING, pattern=DECIMAL_PATTERN)
        ] = None,
        leverage: Annotated[
            str | None, parsed_query(type=OpenAPIType.INTEGER, minimum=1, maximum=MAX_LEVERAGE)
        ] = None,
        tp_perc: Annotated[
            str | None, parsed_query(type=OpenAPIType.STRING, pattern=DECIMAL_PATTERN)
        ] = None,
        sl_perc: Annotated[
            str | None, parsed_query(type=OpenAPIType.STRING, pattern=DECIMAL_PATTERN)
        ] = None,
        source_id: FromQuery[str | None] = None,
    ) -> SignalPreviewOut:
        values = {
            "symbol": symbol,
            "action": action,
            "risk_perc": risk_perc,
            "leverage": leverage,
            "tp_perc": tp_perc,
            "sl_perc": sl_perc,
        }
        return _preview(await preview(request.user, values, source_id))


class PortfolioSyncController(Controller):
    path = "/api/admin/portfolio"
    guards = [admin_only]  # noqa: RUF012

    @post("/sync", operation_id="sync_portfolio", status_code=200)
    async def sync(self, sync: FromDishka[SyncPortfolio]) -> SyncOut:
        summary = await sync()
        return SyncOut(
            accounts=summary.accounts,
            snapshots=summary.snapshots,
            fills=summary.fills,
            trips=summary.trips,
            closes=summary.closes,
            errors=summary.errors,
        )


PERFORMANCE_ROUTE_HANDLERS = [
    PerformanceController,
    SignalPreviewController,
    PortfolioSyncController,
]
