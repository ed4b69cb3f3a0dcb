"""A follower's positions, orders, protection and balances, read from their exchanges."""

from typing import Annotated

from dishka.integrations.litestar import FromDishka
from litestar import Controller, get
from litestar.params import Parameter

from mimic.application.portfolio import ViewPortfolio
from mimic.application.protection_status import ViewProtection
from mimic.application.signal_sources import ManageSignalSources
from mimic.entrypoints.http import schemas, views
from mimic.entrypoints.http.contract import SourceQuery
from mimic.entrypoints.http.security import AuthRequest


class PortfolioController(Controller):
    path = "/api"

    @get("/positions", operation_id="list_positions")
    async def positions(
        self, request: AuthRequest, portfolio: FromDishka[ViewPortfolio]
    ) -> list[schemas.PositionOut]:
        return views.positions(await portfolio.positions(request.user.id))

    @get("/orders", operation_id="list_orders")
    async def orders(
        self,
        request: AuthRequest,
        portfolio: FromDishka[ViewPortfolio],
        sources: FromDishka[ManageSignalSources],
        limit: Annotated[int, Parameter(ge=1, le=1000)] = 200,
        source: SourceQuery = None,
    ) -> list[schemas.OrderOut]:
        """Newest first; `source`: only the orders of that source's signals."""
        await sources.check_filter(source)
        orders = await portfolio.orders(request.user.id, limit, source)
        of_signal = await portfolio.order_sources(orders)
        names = await sources.names()
        return [views.order(o, of_signal.get(o.signal_id or ""), names) for o in orders]

    @get("/positions/protection", operation_id="list_position_protection")
    async def protection(
        self, request: AuthRequest, view: FromDishka[ViewProtection]
    ) -> list[schemas.PositionProtectionOut]:
        return views.position_protection(await view(request.user))

    @get("/balance", operation_id="get_balance")
    async def balance(
        self, request: AuthRequest, portfolio: FromDishka[ViewPortfolio]
    ) -> list[schemas.BalanceOut]:
        return views.balances(await portfolio.balances(request.user.id))
