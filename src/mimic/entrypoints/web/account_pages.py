"""The follower's account pages: notifications and Telegram, subscription, referrals, and the
public leaderboard. Reads go through the interactors of the JSON API; forms post to it."""

from typing import Annotated, Any

import segno
from dishka.integrations.litestar import FromDishka
from litestar import Controller, Request, get
from litestar.params import Parameter
from litestar.response import Template

from mimic.application.messaging import Messaging
from mimic.application.payment_history import ViewPayments
from mimic.application.performance_reports import Period, ViewPerformance
from mimic.application.plans import ManagePlans
from mimic.application.referrals import ViewReferrals
from mimic.application.telegram_bot import ManageNotifications
from mimic.domain.notifications import EVENTS, Channel
from mimic.entrypoints.config import Settings
from mimic.entrypoints.http.payments.views import (
    invoice_out,
    plan_out,
    referrals_out,
    subscription_out,
)
from mimic.entrypoints.web.pages import PUBLIC, AuthRequest, page

TELEGRAM_LINK_PREFIX = "https://t.me/"


class AccountPages(Controller):
    @get("/notifications", include_in_schema=False)
    async def notifications(
        self,
        request: AuthRequest,
        messaging: FromDishka[Messaging],
        manage: FromDishka[ManageNotifications],
        link: Annotated[str | None, Parameter(max_length=300)] = None,
    ) -> Template:
        """`link`: the Telegram deep link just offered, shown with its QR code."""
        chosen = await manage.settings(request.user.id)
        qr = None
        if link and link.startswith(TELEGRAM_LINK_PREFIX):
            qr = segno.make(link, error="m").svg_data_uri(scale=5, dark="#0f1419", light="#fff")
        return await page(
            request,
            messaging,
            "notifications.html",
            events=EVENTS,
            channels=[c.value for c in Channel],
            chosen=chosen,
            link=link if qr else None,
            qr=qr,
        )

    @get("/subscription", include_in_schema=False)
    async def subscription(
        self,
        request: AuthRequest,
        messaging: FromDishka[Messaging],
        plans: FromDishka[ManagePlans],
        payments: FromDishka[ViewPayments],
    ) -> Template:
        return await page(
            request,
            messaging,
            "subscription.html",
            subscription=subscription_out(await payments.subscription(request.user.id)),
            plans=[plan_out(p) for p in await plans.list()],
            invoices=[invoice_out(i) for i in await payments.history(request.user.id)],
        )

    @get("/referrals", include_in_schema=False)
    async def referrals(
        self,
        request: AuthRequest,
        messaging: FromDishka[Messaging],
        view: FromDishka[ViewReferrals],
        settings: FromDishka[Settings],
    ) -> Template:
        mine = referrals_out(await view.mine(request.user))
        link = (
            f"{settings.base_url}/register?ref={mine.referral_code}" if mine.referral_code else None
        )
        return await page(request, messaging, "referrals.html", referrals=mine, link=link)


class LeaderboardPage(Controller):
    opt = PUBLIC

    @get("/leaderboard", include_in_schema=False)
    async def leaderboard(
        self,
        request: Request[Any, Any, Any],
        performance: FromDishka[ViewPerformance],
        period: Annotated[str, Parameter(max_length=8)] = "30d",
    ) -> Template:
        chosen = Period.parse(period)
        return Template(
            template_name="leaderboard.html",
            context={"standings": await performance.leaderboard(chosen), "period": chosen.value},
        )
