"""Route handlers (API.md). Handlers translate; interactors decide."""

from typing import Annotated, Any

import msgspec
from dishka.integrations.litestar import FromDishka
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.exceptions import HTTPException
from litestar.params import FromPath, JSONBody, Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT

from mimic.application.authenticate_user import AuthenticateUser, Credentials
from mimic.application.check_readiness import CheckReadiness
from mimic.application.exchange_connections import (
    ConnectExchange,
    ConnectExchangeCommand,
    ListConnections,
    ManageConnection,
)
from mimic.application.follower_settings import (
    GUARDRAIL_FIELDS,
    LEADERBOARD_OPT_OUT,
    SettingsChange,
    UpdateFollowerSettings,
)
from mimic.application.platform_admin import ManagePlatformSettings
from mimic.application.portfolio import ViewPortfolio
from mimic.application.protection_status import ViewProtection
from mimic.application.receive_signal import ReceiveSignal, ReceiveSignalCommand
from mimic.application.register_user import RegisterUser, RegisterUserCommand
from mimic.application.signal_reports import ReportSignals
from mimic.application.signal_sources import ManageSignalSources
from mimic.application.throttle import LocalThrottle, Throttle
from mimic.domain.accounts import User
from mimic.domain.alerts import decode_key_value_alert
from mimic.domain.guardrails import GuardrailSettings
from mimic.domain.risk import FollowerRiskSettings, PlatformRiskSettings
from mimic.entrypoints.config import Settings
from mimic.entrypoints.http import schemas, views
from mimic.entrypoints.http.accounts.controllers import ACCOUNT_ROUTE_HANDLERS, signed_in
from mimic.entrypoints.http.admin.controllers import AdminController
from mimic.entrypoints.http.contract import WEBHOOK_BODY, SourceQuery, errors
from mimic.entrypoints.http.errors import error_body
from mimic.entrypoints.http.fidelity.controllers import FidelityController
from mimic.entrypoints.http.follows.controllers import FollowController
from mimic.entrypoints.http.lab.controllers import LAB_ROUTE_HANDLERS
from mimic.entrypoints.http.master_accounts.controllers import MasterAccountController
from mimic.entrypoints.http.notifications.controllers import NOTIFICATION_ROUTE_HANDLERS
from mimic.entrypoints.http.payments.controllers import PAYMENT_ROUTE_HANDLERS
from mimic.entrypoints.http.performance.controllers import PERFORMANCE_ROUTE_HANDLERS
from mimic.entrypoints.http.security import admin_only
from mimic.entrypoints.http.sources.controllers import SourceController
from mimic.entrypoints.http.web_security import address_in, client_ip, request_context
from mimic.ports.health import StoreOutages

WEBHOOK_MAX_BODY = 64 * 1024

AuthRequest = Request[User, Any, Any]


class HealthController(Controller):
    path = "/health"

    @get("/", operation_id="health")
    async def health(self) -> schemas.Health:
        return schemas.Health(status="ok")

    @get("/ready", operation_id="health_ready", responses=errors(503))
    async def ready(self, check_readiness: FromDishka[CheckReadiness]) -> Response[Any]:
        for dependency, problem in (await check_readiness()).items():
            if problem is not None:
                return Response(error_body(503, f"{dependency}: {problem}"), status_code=503)
        return Response({"status": "ok"}, status_code=200)


def _alert_payload(body: bytes) -> dict[str, Any]:
    """A JSON object, or OctoBot's KEY=VALUE lines: TradingView sends the alert text as it is
    (as text/plain unless it is valid JSON), so the body is read raw whatever its type says."""
    try:
        payload = msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        lines = decode_key_value_alert(body.decode("utf-8", errors="replace"))
        if lines is None:
            raise HTTPException(
                status_code=400,
                detail=f"body is neither JSON nor KEY=VALUE lines: {exc}",
            ) from None
        return dict(lines)
    if not isinstance(payload, dict):
        raise HTTPException(status_code=400, detail="body must be a JSON object")
    return payload


class WebhookController(Controller):
    path = "/webhook"

    @post(
        "/",
        operation_id="receive_webhook",
        request_max_body_size=WEBHOOK_MAX_BODY,
        status_code=HTTP_202_ACCEPTED,
        operation_class=WEBHOOK_BODY,
        responses=errors(401, 403, 422, 429, 503),
    )
    async def receive(
        self,
        request: Request[Any, Any, Any],
        receive_signal: FromDishka[ReceiveSignal],
        throttle: FromDishka[LocalThrottle],
        settings: FromDishka[Settings],
        store_outages: FromDishka[StoreOutages],
    ) -> Response[schemas.WebhookAccepted]:
        ip = client_ip(request, settings.trusted_proxies)
        if settings.webhook_allowed_ips and not address_in(ip, settings.webhook_allowed_ips):
            raise HTTPException(
                status_code=403, detail=f"{ip} is not an allowed sender (MIMIC_WEBHOOK_ALLOWED_IPS)"
            )
        # Counted in this process: the signal is stored before anything waits on Redis.
        await throttle.check("webhook", (f"ip:{ip}", throttle.limits.webhook_per_ip))
        payload = _alert_payload(await request.body())
        try:
            result = await receive_signal(ReceiveSignalCommand(payload=payload))
        except Exception as exc:
            if not store_outages.is_outage(exc):
                raise
            # Never a 202 for an alert that may not be stored: TradingView resends a 5xx.
            raise HTTPException(
                status_code=503,
                detail="the database is unavailable: the alert was not accepted, send it again",
                headers={"Retry-After": "5"},
            ) from None
        return Response(
            schemas.WebhookAccepted(signal_id=result.signal_id, duplicate=result.duplicate),
            status_code=HTTP_200_OK if result.duplicate else HTTP_202_ACCEPTED,
        )


class AuthController(Controller):
    path = "/api/auth"

    @post("/register", operation_id="register", status_code=201, responses=errors(409, 429))
    async def register(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[schemas.RegisterRequest],
        register_user: FromDishka[RegisterUser],
        throttle: FromDishka[Throttle],
        settings: FromDishka[Settings],
    ) -> schemas.ProfileOut:
        context = request_context(request, settings)
        await throttle.check("register", (f"ip:{context.ip}", throttle.limits.register_per_ip))
        user = await register_user(
            RegisterUserCommand(
                username=data.username,
                email=data.email,
                password=data.password,
                referral_code=data.referral_code,
            )
        )
        return views.profile(user, PlatformRiskSettings())

    @post("/login", operation_id="login", status_code=200, responses=errors(401, 429))
    async def login(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[schemas.LoginRequest],
        authenticate: FromDishka[AuthenticateUser],
        throttle: FromDishka[Throttle],
        settings: FromDishka[Settings],
    ) -> Response[schemas.TokenResponse]:
        context = request_context(request, settings)
        await throttle.check(
            "login",
            (f"ip:{context.ip}", throttle.limits.login_per_ip),
            (f"user:{data.username.lower()[:64]}", throttle.limits.login_per_account),
        )
        user = await authenticate(
            Credentials(username=data.username, password=data.password, context=context)
        )
        return signed_in(request, user, settings)


class MeController(Controller):
    path = "/api/me"

    @get("/", operation_id="me")
    async def me(
        self, request: AuthRequest, platform: FromDishka[ManagePlatformSettings]
    ) -> schemas.ProfileOut:
        return views.profile(request.user, await platform.get())

    @patch("/settings", operation_id="update_my_settings")
    async def update_settings(
        self,
        request: AuthRequest,
        data: JSONBody[schemas.SettingsPatch],
        update: FromDishka[UpdateFollowerSettings],
        platform: FromDishka[ManagePlatformSettings],
        settings: FromDishka[Settings],
    ) -> schemas.ProfileOut:
        given = frozenset(
            name
            for name in ("risk_perc", "leverage", "paused")
            if getattr(data, name) is not msgspec.UNSET
        )
        values = FollowerRiskSettings(
            risk_perc=_unset_to_none(data.risk_perc),
            leverage=_unset_to_none(data.leverage),
            paused=bool(_unset_to_none(data.paused)),
        )
        given |= frozenset(
            name
            for name in (*GUARDRAIL_FIELDS, LEADERBOARD_OPT_OUT)
            if getattr(data, name) is not msgspec.UNSET
        )
        guardrails = GuardrailSettings(
            drawdown_stop_perc=_unset_to_none(data.drawdown_stop_perc),
            close_all_on_drawdown=bool(_unset_to_none(data.close_all_on_drawdown)),
            profit_lock_perc=_unset_to_none(data.profit_lock_perc),
        )
        user = await update(
            SettingsChange(
                user_id=request.user.id,
                values=values,
                given=given,
                context=request_context(request, settings),
                protection=data.protection_changes(),
                guardrails=guardrails,
                leaderboard_opt_out=bool(_unset_to_none(data.leaderboard_opt_out)),
            )
        )
        return views.profile(user, await platform.get())


def _unset_to_none(value: Any) -> Any:
    return None if value is msgspec.UNSET else value


class ExchangeController(Controller):
    path = "/api/exchanges"

    @post("/", operation_id="connect_exchange", status_code=201, responses=errors(429))
    async def connect(
        self,
        request: AuthRequest,
        data: JSONBody[schemas.ConnectExchangeRequest],
        connect: FromDishka[ConnectExchange],
    ) -> schemas.ExchangeOut:
        account = await connect(
            ConnectExchangeCommand(
                user_id=request.user.id,
                exchange=data.exchange,
                label=data.label,
                api_key=data.api_key,
                api_secret=data.api_secret,
                password=data.password,
            )
        )
        return views.exchange(account)

    @get("/", operation_id="list_my_exchanges")
    async def list_mine(
        self, request: AuthRequest, connections: FromDishka[ListConnections]
    ) -> list[schemas.ExchangeOut]:
        return [views.exchange(a) for a in await connections(request.user.id)]

    @patch("/{account_id:str}", operation_id="set_exchange_enabled")
    async def set_enabled(
        self,
        request: AuthRequest,
        account_id: FromPath[str],
        data: JSONBody[schemas.EnablePatch],
        manage: FromDishka[ManageConnection],
    ) -> schemas.ExchangeOut:
        account = await manage.set_enabled(request.user.id, account_id, data.enabled)
        return views.exchange(account)

    @delete("/{account_id:str}", operation_id="delete_exchange", status_code=HTTP_204_NO_CONTENT)
    async def remove(
        self, request: AuthRequest, account_id: FromPath[str], manage: FromDishka[ManageConnection]
    ) -> None:
        await manage.delete(request.user.id, account_id)


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


class SignalController(Controller):
    path = "/api/signals"

    @get("/", operation_id="list_signals", guards=[admin_only])
    async def list_signals(
        self,
        reports: FromDishka[ReportSignals],
        sources: FromDishka[ManageSignalSources],
        limit: Annotated[int, Parameter(ge=1, le=1000)] = 100,
        source: SourceQuery = None,
    ) -> list[schemas.SignalOut]:
        """Newest first; `source`: only that source's signals."""
        await sources.check_filter(source)
        names = await sources.names()
        return [views.signal(s, names) for s in await reports.list_recent(limit, source)]

    @get("/{signal_id:str}", operation_id="get_signal")
    async def get_signal(
        self,
        request: AuthRequest,
        signal_id: FromPath[str],
        reports: FromDishka[ReportSignals],
        sources: FromDishka[ManageSignalSources],
    ) -> schemas.SignalReportOut:
        """Admins see every account; a follower only their own (404 for other signals)."""
        report = await reports.report(signal_id, request.user)
        return views.signal_report(report, await sources.names())


ROUTE_HANDLERS = [
    *ACCOUNT_ROUTE_HANDLERS,
    *LAB_ROUTE_HANDLERS,
    *PERFORMANCE_ROUTE_HANDLERS,
    HealthController,
    WebhookController,
    AuthController,
    MeController,
    ExchangeController,
    PortfolioController,
    SignalController,
    FidelityController,
    AdminController,
    SourceController,
    MasterAccountController,
    FollowController,
    *PAYMENT_ROUTE_HANDLERS,
    *NOTIFICATION_ROUTE_HANDLERS,
]
