"""Trades, balance history, leaderboard, daily guardrails and the pre-flight preview."""

from datetime import datetime
from typing import Annotated

from dishka.integrations.litestar import FromDishka
from litestar import Controller, get, post
from litestar.openapi.spec import OpenAPIType
from litestar.params import FromQuery, Parameter

from mimic.application.performance_reports import MAX_HISTORY, Period, ViewPerformance
from mimic.application.portfolio_sync import SyncPortfolio
from mimic.application.preview_signal import PreviewSignal
from mimic.domain.alerts import ACTION_WORDS
from mimic.domain.errors import InvalidField
from mimic.domain.performance import TradeFilters
from mimic.domain.signal import MAX_LEVERAGE
from mimic.entrypoints.http.contract import (
    DECIMAL_PATTERN,
    SourceQuery,
    any_case,
    parsed_query,
)
from mimic.entrypoints.http.performance.schemas import (
    BalanceSnapshotOut,
    GuardrailStatusOut,
    LeaderboardOut,
    SignalPreviewOut,
    SyncOut,
    TradeOut,
)
from mimic.entrypoints.http.performance.views import (
    preview_out,
    snapshot_out,
    standing_out,
    trade_out,
)
from mimic.entrypoints.http.portfolio.views import order_out
from mimic.entrypoints.http.security import AuthRequest, admin_only

MAX_TRADES = 1000


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
        return [snapshot_out(s) for s in history]

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
            entries=[standing_out(rank, s) for rank, s in enumerate(standings, start=1)],
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
        return preview_out(await preview(request.user, values, source_id))


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
