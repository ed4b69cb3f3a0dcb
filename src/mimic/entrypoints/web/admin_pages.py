"""The admin console. Reads through the interactors the admin API uses; its forms post to
that API (static/app.js)."""

from typing import Annotated, Any

from dishka.integrations.litestar import FromDishka
from litestar import Controller, get
from litestar.params import FromPath, Parameter
from litestar.response import Template

from mimic.application.audit_trail import ReadAuditTrail
from mimic.application.exchange_connections import ListConnections
from mimic.application.manage_users import ManageUsers
from mimic.application.messaging import Messaging
from mimic.application.panic import ResumeCopying, ViewPanicRuns
from mimic.application.payment_settings import ManagePaymentSettings
from mimic.application.plans import ManagePlans
from mimic.application.platform_activity import ViewPlatformActivity
from mimic.application.platform_admin import ManagePlatformSettings
from mimic.application.referrals import ViewReferrals
from mimic.application.signal_reports import ReportSignals
from mimic.application.signal_sources import ManageSignalSources
from mimic.domain.accounts import ConnectionStatus
from mimic.entrypoints.http.admin.views import platform_settings_out
from mimic.entrypoints.http.exchanges.views import exchange_out
from mimic.entrypoints.http.payments.views import plan_out, referrals_out
from mimic.entrypoints.http.security import admin_only
from mimic.entrypoints.http.signals.views import signal_out, signal_report_out
from mimic.entrypoints.web.pages import AuthRequest, page

RECENT_SIGNALS = 50
USERS_PAGE = 50
AUDIT_PAGE = 100
USER_TARGET = "user:"  # how the audit trail names a user it acted on
Offset = Annotated[int, Parameter(ge=0, le=1_000_000)]


class AdminPages(Controller):
    path = "/admin"
    guards = [admin_only]  # noqa: RUF012

    @get("/", include_in_schema=False)
    async def overview(
        self,
        request: AuthRequest,
        messaging: FromDishka[Messaging],
        reports: FromDishka[ReportSignals],
        sources: FromDishka[ManageSignalSources],
        connections: FromDishka[ListConnections],
        copying: FromDishka[ResumeCopying],
        users: FromDishka[ManageUsers],
        view_activity: FromDishka[ViewPlatformActivity],
    ) -> Template:
        names = await sources.names()
        signals = [signal_out(s, names) for s in await reports.list_recent(10)]
        pending = await connections.by_status(ConnectionStatus.PENDING)
        activity = await view_activity()
        return await page(
            request,
            messaging,
            "admin/overview.html",
            signals=signals,
            pending=len(pending),
            users_total=(await users.search(None, 0, 1)).total,
            copying_paused=await copying.paused(),
            activity=activity,
            names=await users.usernames(e.user_id for e in activity.errors),
        )

    @get("/signals", include_in_schema=False)
    async def signals(
        self,
        request: AuthRequest,
        messaging: FromDishka[Messaging],
        reports: FromDishka[ReportSignals],
        sources: FromDishka[ManageSignalSources],
    ) -> Template:
        names = await sources.names()
        signals = [signal_out(s, names) for s in await reports.list_recent(RECENT_SIGNALS)]
        return await page(request, messaging, "admin/signals.html", signals=signals)

    @get("/signals/{signal_id:str}", include_in_schema=False)
    async def signal(
        self,
        request: AuthRequest,
        signal_id: FromPath[str],
        messaging: FromDishka[Messaging],
        reports: FromDishka[ReportSignals],
        sources: FromDishka[ManageSignalSources],
        users: FromDishka[ManageUsers],
    ) -> Template:
        report = signal_report_out(
            await reports.report(signal_id, request.user), await sources.names()
        )
        names = await users.usernames(a.user_id for a in report.accounts)
        return await page(request, messaging, "admin/signal.html", report=report, names=names)

    @get("/signals/{signal_id:str}/outcomes", include_in_schema=False)
    async def signal_outcomes(
        self,
        request: AuthRequest,
        signal_id: FromPath[str],
        reports: FromDishka[ReportSignals],
        sources: FromDishka[ManageSignalSources],
        users: FromDishka[ManageUsers],
    ) -> Template:
        """Re-read on each live event while the fan-out runs."""
        report = signal_report_out(
            await reports.report(signal_id, request.user), await sources.names()
        )
        names = await users.usernames(a.user_id for a in report.accounts)
        return Template(
            template_name="admin/_outcomes.html", context={"report": report, "names": names}
        )

    @get("/connections", include_in_schema=False)
    async def connections(
        self,
        request: AuthRequest,
        messaging: FromDishka[Messaging],
        connections: FromDishka[ListConnections],
        users: FromDishka[ManageUsers],
    ) -> Template:
        pending = await _pending(connections, users)
        return await page(request, messaging, "admin/connections.html", **pending)

    @get("/connections/pending", include_in_schema=False)
    async def pending_connections(
        self, connections: FromDishka[ListConnections], users: FromDishka[ManageUsers]
    ) -> Template:
        pending = await _pending(connections, users)
        return Template(template_name="admin/_pending.html", context=pending)

    @get("/users", include_in_schema=False)
    async def users(
        self,
        request: AuthRequest,
        messaging: FromDishka[Messaging],
        manage: FromDishka[ManageUsers],
        q: Annotated[str | None, Parameter(max_length=100)] = None,
        offset: Offset = 0,
    ) -> Template:
        found = await manage.search(q, offset, USERS_PAGE)
        return await page(
            request,
            messaging,
            "admin/users.html",
            users=found.users,
            total=found.total,
            q=q or "",
            offset=offset,
            page_size=USERS_PAGE,
        )

    @get("/audit", include_in_schema=False)
    async def audit(
        self,
        request: AuthRequest,
        messaging: FromDishka[Messaging],
        read: FromDishka[ReadAuditTrail],
        users: FromDishka[ManageUsers],
        action: Annotated[str | None, Parameter(max_length=100)] = None,
        actor_id: Annotated[str | None, Parameter(max_length=100)] = None,
        offset: Offset = 0,
    ) -> Template:
        """`actor_id`: a username or a user id."""
        actor = await users.id_of(actor_id.strip()) if actor_id and actor_id.strip() else None
        events = await read(offset=offset, limit=AUDIT_PAGE, action=action, actor_id=actor)
        people = {e.actor_id for e in events if e.actor_id} | {
            e.target.removeprefix(USER_TARGET)
            for e in events
            if e.target and e.target.startswith(USER_TARGET)
        }
        return await page(
            request,
            messaging,
            "admin/audit.html",
            events=events,
            names=await users.usernames(people),
            action=action or "",
            actor_id=actor_id or "",
            offset=offset,
            page_size=AUDIT_PAGE,
        )

    @get("/settings", include_in_schema=False)
    async def platform_settings(
        self,
        request: AuthRequest,
        messaging: FromDishka[Messaging],
        platform: FromDishka[ManagePlatformSettings],
        copying: FromDishka[ResumeCopying],
    ) -> Template:
        return await page(
            request,
            messaging,
            "admin/settings.html",
            platform=platform_settings_out(await platform.get()),
            copying_paused=await copying.paused(),
        )

    @get("/payments", include_in_schema=False)
    async def payments(
        self,
        request: AuthRequest,
        messaging: FromDishka[Messaging],
        plans: FromDishka[ManagePlans],
        payment_settings: FromDishka[ManagePaymentSettings],
        referrals: FromDishka[ViewReferrals],
    ) -> Template:
        """Plans, payment settings and the referral payouts owed."""
        return await page(
            request,
            messaging,
            "admin/payments.html",
            plans=[plan_out(p) for p in await plans.list(include_inactive=True)],
            payment_settings=await payment_settings.get(),
            referrers=[referrals_out(r) for r in await referrals.all_referrers()],
        )

    @get("/panic", include_in_schema=False)
    async def panic(self, request: AuthRequest, messaging: FromDishka[Messaging]) -> Template:
        return await page(request, messaging, "admin/panic.html")

    @get("/panic/{run_id:str}", include_in_schema=False)
    async def panic_run(
        self,
        request: AuthRequest,
        run_id: FromPath[str],
        messaging: FromDishka[Messaging],
        runs: FromDishka[ViewPanicRuns],
        users: FromDishka[ManageUsers],
    ) -> Template:
        run = await runs(run_id)
        names = await users.usernames(a.user_id for a in run.accounts)
        return await page(request, messaging, "admin/panic_run.html", run=run, names=names)


async def _pending(connections: ListConnections, users: ManageUsers) -> dict[str, Any]:
    pending = await connections.by_status(ConnectionStatus.PENDING)
    return {
        "connections": [exchange_out(a) for a in pending],
        "names": await users.usernames(a.user_id for a in pending),
    }
