"""What each signal did: the recent signals (admin) and one signal's report."""

from typing import Annotated

from dishka.integrations.litestar import FromDishka
from litestar import Controller, get
from litestar.params import FromPath, Parameter

from mimic.application.signal_reports import ReportSignals
from mimic.application.signal_sources import ManageSignalSources
from mimic.entrypoints.http.contract import SourceQuery
from mimic.entrypoints.http.security import AuthRequest, admin_only
from mimic.entrypoints.http.signals.schemas import SignalOut, SignalReportOut
from mimic.entrypoints.http.signals.views import signal_out, signal_report_out


class SignalController(Controller):
    path = "/api/signals"

    @get("/", operation_id="list_signals", guards=[admin_only])
    async def list_signals(
        self,
        reports: FromDishka[ReportSignals],
        sources: FromDishka[ManageSignalSources],
        limit: Annotated[int, Parameter(ge=1, le=1000)] = 100,
        source: SourceQuery = None,
    ) -> list[SignalOut]:
        """Newest first; `source`: only that source's signals."""
        await sources.check_filter(source)
        names = await sources.names()
        return [signal_out(s, names) for s in await reports.list_recent(limit, source)]

    @get("/{signal_id:str}", operation_id="get_signal")
    async def get_signal(
        self,
        request: AuthRequest,
        signal_id: FromPath[str],
        reports: FromDishka[ReportSignals],
        sources: FromDishka[ManageSignalSources],
    ) -> SignalReportOut:
        """Admins see every account; a follower only their own (404 for other signals)."""
        report = await reports.report(signal_id, request.user)
        return signal_report_out(report, await sources.names())
