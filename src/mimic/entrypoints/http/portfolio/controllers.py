"""A follower's positions, orders, protection and balances, read from their exchanges."""

from typing import Annotated

from dishka.integrations.litestar import FromDishka
from litestar import Controller, get
from litestar.params import Parameter

from mimic.application.portfolio import ViewPortfolio
from mimic.application.protection_status import ViewProtection
from mimic.application.signal_sources import ManageSignalSources
from mimic.entrypoints.http.contract import SourceQuery
from mimic.entrypoints.http.portfolio.schemas import (
    BalanceOut,
    OrderOut,
    PositionOut,
    PositionProtectionOut,
)
from mimic.entrypoints.http.portfolio.views import (
    balances_out,
    order_out,
    position_protection_out,
    positions_out,
)
from mimic.entrypoints.http.security import AuthRequest


class PortfolioController(Controller):
    path = "/api"

    @get("/positions", operation_id="list_positions")
    async def positions(
        self, request: AuthRequest, portfolio: FromDishka[ViewPortfolio]
    ) -> list[PositionOut]:
        return positions_out(await portfolio.positions(request.user.id))

    @get("/orders", operation_id="list_orders")
    async def orders(
        self,
        request: AuthRequest,
        portfolio: FromDishka[ViewPortfolio],
        sources: FromDishka[ManageSignalSources],
        limit: Annotated[int, Parameter(ge=1, le=1000)] = 200,
        source: SourceQuery = None,
    ) -> list[OrderOut]:
        """Newest first; `source`: only the orders of that source's signals."""
        await sources.check_filter(source)
        orders = await portfolio.orders(request.user.id, limit, source)
        of_signal = await portfolio.order_sources(orders)
        names = await sources.names()
        return [order_out(o, of_signal.get(o.signal_id or ""), names) for o in orders]

    @get("/positions/protection", operation_id="list_position_protection")
    async def protection(
        self, request: AuthRequest, view: FromDishka[ViewProtection]
    ) -> list[PositionProtectionOut]:
        return position_protection_out(await view(request.user))

    @get("/balance", operation_id="get_balance")
    async def balance(
        self, request: AuthRequest, portfolio: FromDishka[ViewPortfolio]
    ) -> list[BalanceOut]:
        return balances_out(await portfolio.balances(request.user.id))
