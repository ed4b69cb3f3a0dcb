"""Admin routes for connections, platform settings, the position monitor and paper prices
(docs/admin-guide.md). Handlers translate; interactors decide."""

from dishka.integrations.litestar import FromDishka
from litestar import Controller, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody

from mimic.application.exchange_connections import ListConnections, ReviewConnection
from mimic.application.monitor_positions import MonitorPositions
from mimic.application.platform_admin import ManagePlatformSettings, SetPaperPrice
from mimic.domain.accounts import ConnectionStatus
from mimic.domain.risk import PlatformRiskSettings
from mimic.domain.symbols import normalize_symbol
from mimic.entrypoints.config import Settings
from mimic.entrypoints.http.admin.schemas import (
    MonitorRunOut,
    PaperPriceOut,
    PaperPriceRequest,
    PlatformSettingsBody,
    RejectRequest,
)
from mimic.entrypoints.http.admin.views import platform_settings_out
from mimic.entrypoints.http.contract import errors
from mimic.entrypoints.http.exchanges.schemas import ExchangeOut
from mimic.entrypoints.http.exchanges.views import exchange_out
from mimic.entrypoints.http.security import AuthRequest, admin_only
from mimic.entrypoints.http.web_security import request_context


class AdminController(Controller):
    path = "/api/admin"
    guards = [admin_only]  # noqa: RUF012

    @get("/exchanges", operation_id="admin_list_exchanges")
    async def list_exchanges(
        self,
        connections: FromDishka[ListConnections],
        status: FromQuery[ConnectionStatus | None] = None,
    ) -> list[ExchangeOut]:
        return [exchange_out(a) for a in await connections.by_status(status)]

    @post(
        "/exchanges/{account_id:str}/approve",
        operation_id="approve_exchange",
        status_code=200,
        responses=errors(409),
    )
    async def approve(
        self,
        request: AuthRequest,
        account_id: FromPath[str],
        review: FromDishka[ReviewConnection],
        settings: FromDishka[Settings],
    ) -> ExchangeOut:
        return exchange_out(await review.approve(account_id, request_context(request, settings)))

    @post(
        "/exchanges/{account_id:str}/reject",
        operation_id="reject_exchange",
        status_code=200,
        responses=errors(409),
    )
    async def reject(
        self,
        request: AuthRequest,
        account_id: FromPath[str],
        data: JSONBody[RejectRequest],
        review: FromDishka[ReviewConnection],
        settings: FromDishka[Settings],
    ) -> ExchangeOut:
        return exchange_out(
            await review.reject(account_id, data.reason, request_context(request, settings))
        )

    @get("/settings", operation_id="get_platform_settings")
    async def get_settings(
        self, platform: FromDishka[ManagePlatformSettings]
    ) -> PlatformSettingsBody:
        return platform_settings_out(await platform.get())

    @put("/settings", operation_id="put_platform_settings")
    async def put_settings(
        self,
        request: AuthRequest,
        data: JSONBody[PlatformSettingsBody],
        platform: FromDishka[ManagePlatformSettings],
        settings: FromDishka[Settings],
    ) -> PlatformSettingsBody:
        new = PlatformRiskSettings(
            default_risk_perc=data.default_risk_perc,
            default_leverage=data.default_leverage,
            max_risk_perc=data.max_risk_perc,
            max_leverage=data.max_leverage,
        )
        return platform_settings_out(
            await platform.replace(new, request_context(request, settings))
        )

    @post("/monitor/run", operation_id="run_position_monitor", status_code=200)
    async def run_monitor(self, monitor: FromDishka[MonitorPositions]) -> MonitorRunOut:
        """One round of the position monitor now (demos, tests, operators)."""
        report = await monitor()
        return MonitorRunOut(
            positions=report.positions,
            trailing_closes=report.trailing_closes,
            dca_adds=report.dca_adds,
            protection_fills=report.protection_fills,
        )

    @put("/paper/prices/{symbol:str}", operation_id="set_paper_price")
    async def set_paper_price(
        self,
        symbol: FromPath[str],
        data: JSONBody[PaperPriceRequest],
        set_price: FromDishka[SetPaperPrice],
    ) -> PaperPriceOut:
        normalized = normalize_symbol(symbol)
        await set_price(normalized, data.price)
        return PaperPriceOut(symbol=normalized, price=data.price)
