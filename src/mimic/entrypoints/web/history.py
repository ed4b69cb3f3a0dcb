"""The follower's order and trade history pages and their CSV exports (same filters)."""

import csv
import io
from collections.abc import Sequence
from typing import Annotated

from dishka.integrations.litestar import FromDishka
from litestar import Controller, Response, get
from litestar.params import Parameter
from litestar.response import Template

from mimic.application.messaging import Messaging
from mimic.application.order_history import ViewOrderHistory
from mimic.application.performance_reports import ViewPerformance
from mimic.domain.orders import OrderFilters
from mimic.domain.performance import TradeFilters
from mimic.entrypoints.http.performance.views import trade_out
from mimic.entrypoints.http.portfolio.views import order_out
from mimic.entrypoints.web.pages import PAGE_SIZE, AuthRequest, page

Status = Annotated[str | None, Parameter(max_length=16)]
Symbol = Annotated[str | None, Parameter(max_length=32)]
Side = Annotated[str | None, Parameter(max_length=8)]
Source = Annotated[str | None, Parameter(max_length=64)]
Offset = Annotated[int, Parameter(ge=0, le=1_000_000)]
MAX_TRADE_EXPORT = 10_000
CSV_COLUMNS = (
    "created_at",
    "symbol",
    "leg",
    "side",
    "quantity",
    "status",
    "filled_quantity",
    "average_price",
    "fee",
    "reason",
    "exchange_account_id",
    "signal_id",
    "client_order_id",
)
TRADE_CSV_COLUMNS = (
    "closed_at",
    "opened_at",
    "symbol",
    "side",
    "quantity",
    "entry_price",
    "exit_price",
    "realized_pnl",
    "fees",
    "net_pnl",
    "roi_perc",
    "exchange_account_id",
    "source_id",
    "source_name",
)
# A spreadsheet runs a cell starting with one of these as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class OrderHistoryPages(Controller):
    path = "/orders"

    @get("/", include_in_schema=False)
    async def orders(
        self,
        request: AuthRequest,
        messaging: FromDishka[Messaging],
        history: FromDishka[ViewOrderHistory],
        status: Status = None,
        symbol: Symbol = None,
        offset: Offset = 0,
    ) -> Template:
        found = await history(
            request.user.id, OrderFilters.parse(status, symbol), offset=offset, limit=PAGE_SIZE
        )
        return await page(
            request,
            messaging,
            "orders.html",
            orders=[order_out(o) for o in found.orders],
            has_more=found.has_more,
            status=status or "",
            symbol=symbol or "",
            offset=offset,
            size=PAGE_SIZE,
        )

    @get("/export.csv", include_in_schema=False)
    async def export(
        self,
        request: AuthRequest,
        history: FromDishka[ViewOrderHistory],
        status: Status = None,
        symbol: Symbol = None,
    ) -> Response[bytes]:
        found = await history.export(request.user.id, OrderFilters.parse(status, symbol))
        rows = [order_out(order) for order in found]
        return _csv("mimic-orders.csv", CSV_COLUMNS, rows)


class TradeHistoryPages(Controller):
    """Closed trades, rebuilt from the exchange's fills like GET /api/trades."""

    path = "/trades"

    @get("/", include_in_schema=False)
    async def trades(
        self,
        request: AuthRequest,
        messaging: FromDishka[Messaging],
        performance: FromDishka[ViewPerformance],
        symbol: Symbol = None,
        side: Side = None,
        source: Source = None,
        offset: Offset = 0,
    ) -> Template:
        filters = TradeFilters.parse(symbol, side, source)
        found = await performance.trade_page(
            request.user.id, filters, offset=offset, limit=PAGE_SIZE
        )
        names = await performance.source_names()
        return await page(
            request,
            messaging,
            "trades.html",
            trades=[trade_out(t, names) for t in found.trades],
            has_more=found.has_more,
            symbol=symbol or "",
            side=side or "",
            source=source or "",
            sources=sorted(names.items(), key=lambda item: (item[1], item[0])),
            offset=offset,
            size=PAGE_SIZE,
        )

    @get("/export.csv", include_in_schema=False)
    async def export(
        self,
        request: AuthRequest,
        performance: FromDishka[ViewPerformance],
        symbol: Symbol = None,
        side: Side = None,
        source: Source = None,
    ) -> Response[bytes]:
        filters = TradeFilters.parse(symbol, side, source)
        found = await performance.trades(request.user.id, limit=MAX_TRADE_EXPORT, filters=filters)
        names = await performance.source_names()
        rows = [trade_out(t, names) for t in found]
        return _csv("mimic-trades.csv", TRADE_CSV_COLUMNS, rows)


def _csv(filename: str, columns: Sequence[str], rows: Sequence[object]) -> Response[bytes]:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(getattr(row, column)) for column in columns])
    return Response(
        out.getvalue().encode(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_START) and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
