"""The follower's pages. Each reads through the same interactors as the JSON API; forms
post to the JSON API itself (static/app.js), so every rule stays in one place."""

from typing import Annotated, Any

from dishka.integrations.litestar import FromDishka
from litestar import Controller, Request, get
from litestar.params import FromPath, FromQuery, Parameter
from litestar.response import Redirect, Template

from mimic.application.copy_fidelity import ViewCopyFidelity
from mimic.application.exchange_connections import ListConnections
from mimic.application.manage_users import ManageUsers
from mimic.application.messaging import Messaging
from mimic.application.portfolio import ViewPortfolio
from mimic.application.protection_status import ViewProtection
from mimic.domain.accounts import User
from mimic.entrypoints.http.exchanges.views import exchange_out
from mimic.entrypoints.http.fidelity.views import fidelity_out
from mimic.entrypoints.http.portfolio.views import (
    balances_out,
    order_out,
    position_protection_out,
    positions_out,
)
from mimic.entrypoints.http.profile.views import follower_settings_out

AuthRequest = Request[User, Any, Any]
PUBLIC = {"exclude_from_auth": True}
RECENT_ORDERS = 15
# Followers an admin's fidelity widget lists: the slowest copies first (all are in the API).
SLOWEST_FOLLOWERS = 10
PAGE_SIZE = 50


async def page(request: AuthRequest, messaging: Messaging, name: str, **context: Any) -> Template:
    """A signed-in page: the menu, its unread badge and the live socket come with it."""
    return Template(
        template_name=name,
        context={
            "user": request.user,
            "unread": await messaging.unread(request.user),
            "path": request.url.path,
            **context,
        },
    )


class PublicPages(Controller):
    """Reachable without a session: sign in, register, the two password-reset steps."""

    opt = PUBLIC

    @get("/", include_in_schema=False)
    async def home(self) -> Redirect:
        """A stranger is sent on to sign in from there."""
        return Redirect("/dashboard")

    @get("/login", include_in_schema=False)
    async def login(self) -> Template:
        return Template(template_name="login.html")

    @get("/register", include_in_schema=False)
    async def register(
        self, ref: Annotated[str | None, Parameter(max_length=64)] = None
    ) -> Template:
        return Template(template_name="register.html", context={"referral_code": ref or ""})

    @get("/forgot", include_in_schema=False)
    async def forgot(self) -> Template:
        return Template(template_name="forgot.html")

    @get("/reset", include_in_schema=False)
    async def reset(
        self,
        code: Annotated[str | None, Parameter(max_length=200)] = None,
        user: Annotated[str | None, Parameter(max_length=200)] = None,
    ) -> Template:
        """The reset mail links here with its code filled in."""
        return Template(
            template_name="reset.html", context={"code": code or "", "login": user or ""}
        )


class FollowerPages(Controller):
    @get("/dashboard", include_in_schema=False)
    async def dashboard(
        self,
        request: AuthRequest,
        messaging: FromDishka[Messaging],
        portfolio: FromDishka[ViewPortfolio],
        protection: FromDishka[ViewProtection],
    ) -> Template:
        live = await _dashboard_state(request.user, portfolio, protection)
        return await page(request, messaging, "dashboard.html", **live)

    @get("/dashboard/live", include_in_schema=False)
    async def dashboard_live(
        self,
        request: AuthRequest,
        portfolio: FromDishka[ViewPortfolio],
        protection: FromDishka[ViewProtection],
    ) -> Template:
        """What the dashboard re-reads on every live event and after a reconnect."""
        live = await _dashboard_state(request.user, portfolio, protection)
        return Template(template_name="_dashboard_live.html", context=live)

    @get("/fidelity", include_in_schema=False)
    async def fidelity(
        self,
        request: AuthRequest,
        view: FromDishka[ViewCopyFidelity],
        period: FromQuery[str] = "7d",
    ) -> Template:
        """The copy fidelity widget of the dashboard and the admin console (loaded apart:
        a month of copies takes a moment to sum up)."""
        report = fidelity_out(await view(request.user, period))
        slowest = sorted(
            report.followers,
            key=lambda f: -1 if f.fidelity.latency_p95_ms is None else f.fidelity.latency_p95_ms,
            reverse=True,
        )[:SLOWEST_FOLLOWERS]
        return Template(
            template_name="_fidelity.html",
            context={"report": report, "followers": slowest, "admin": request.user.is_admin},
        )

    @get("/exchanges", include_in_schema=False)
    async def exchanges(
        self,
        request: AuthRequest,
        messaging: FromDishka[Messaging],
        connections: FromDishka[ListConnections],
    ) -> Template:
        mine = [exchange_out(a) for a in await connections(request.user.id)]
        return await page(request, messaging, "exchanges.html", connections=mine)

    @get("/exchanges/list", include_in_schema=False)
    async def exchanges_list(
        self, request: AuthRequest, connections: FromDishka[ListConnections]
    ) -> Template:
        mine = [exchange_out(a) for a in await connections(request.user.id)]
        return Template(template_name="_exchanges.html", context={"connections": mine})

    @get("/settings", include_in_schema=False)
    async def settings(self, request: AuthRequest, messaging: FromDishka[Messaging]) -> Template:
        return await page(
            request, messaging, "settings.html", settings=follower_settings_out(request.user)
        )


async def _dashboard_state(
    user: User, portfolio: ViewPortfolio, protection: ViewProtection
) -> dict[str, Any]:
    held_balances, held_positions = await portfolio.holdings(user.id)
    balances = balances_out(held_balances)
    return {
        "balances": balances,
        "equity": sum((b.equity for b in balances if b.equity is not None), start=0),
        "positions": positions_out(held_positions),
        "protection": position_protection_out(await protection.of_positions(user, held_positions)),
        "orders": [order_out(o) for o in await portfolio.orders(user.id, RECENT_ORDERS)],
    }


class MessagePages(Controller):
    """Conversations with the admins (an admin sees every user's)."""

    path = "/messages"

    @get("/", include_in_schema=False)
    async def threads(
        self,
        request: AuthRequest,
        messaging: FromDishka[Messaging],
        users: FromDishka[ManageUsers],
        offset: Annotated[int, Parameter(ge=0, le=1_000_000)] = 0,
    ) -> Template:
        threads = await messaging.threads(request.user, offset, PAGE_SIZE)
        return await page(
            request,
            messaging,
            "messages.html",
            threads=threads,
            names=await users.usernames(t.thread.user_id for t in threads),
            offset=offset,
            size=PAGE_SIZE,
        )

    @get("/{thread_id:str}", include_in_schema=False)
    async def thread(
        self,
        request: AuthRequest,
        thread_id: FromPath[str],
        messaging: FromDishka[Messaging],
        users: FromDishka[ManageUsers],
    ) -> Template:
        view = await messaging.thread(request.user, thread_id)
        names = await users.usernames([view.thread.user_id])
        return await page(request, messaging, "thread.html", view=view, names=names)
