"""The follower's order history page and its CSV export (same filters)."""

import csv
import io
from typing import Annotated

from dishka.integrations.litestar import FromDishka
from litestar import Controller, Response, get
from litestar.params import Parameter
from litestar.response import Template

from mimic.application.messaging import Messaging
from mimic.application.order_history import ViewOrderHistory
from mimic.domain.orders import OrderFilters
from mimic.entrypoints.http import views
from mimic.entrypoints.web.pages import PAGE_SIZE, AuthRequest, page

Status = Annotated[str | None, Parameter(max_length=16)]
Symbol = Annotated[str | None, Parameter(max_length=32)]
Offset = Annotated[int, Parameter(ge=0, le=1_000_000)]
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
            orders=[views.order(o) for o in found.orders],
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
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        for order in found:
            shown = views.order(order)
            writer.writerow([_cell(getattr(shown, column)) for column in CSV_COLUMNS])
        return Response(
            out.getvalue().encode(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="mimic-orders.csv"'},
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
