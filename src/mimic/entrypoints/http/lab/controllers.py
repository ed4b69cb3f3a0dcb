"""The strategy lab from the web console (admins): upload, a worker replays, see the report."""

import json
from typing import Annotated, Any

from dishka.integrations.litestar import FromDishka
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, Parameter

from mimic.application.lab_runs import ViewLabRuns
from mimic.application.requeue_lab_run import RequeueLabRun
from mimic.application.start_lab_run import StartLabRun
from mimic.domain.accounts import User
from mimic.domain.lab.runs import LabRun, LabRunStatus
from mimic.entrypoints.http.contract import LAB_UPLOAD_BODY, errors
from mimic.entrypoints.http.lab.schemas import LabRunOut
from mimic.entrypoints.http.security import admin_only

LAB_UPLOAD_MAX_BODY = 64 * 1024 * 1024  # a year of 5-minute Binance klines is about 12 MB


def _run_out(run: LabRun, report: dict[str, Any] | None = None) -> LabRunOut:
    return LabRunOut(run.id, run.status.value, run.created_at, run.finished_at, run.error, report)


class LabController(Controller):
    path = "/api/admin/lab/runs"
    guards = [admin_only]  # noqa: RUF012

    @post(
        "/",
        operation_id="start_lab_run",
        status_code=202,
        request_max_body_size=LAB_UPLOAD_MAX_BODY,
        operation_class=LAB_UPLOAD_BODY,
        responses=errors(422),
    )
    async def start(
        self, request: Request[User, Any, Any], start: FromDishka[StartLabRun]
    ) -> LabRunOut:
        """Body: {"candles": [{"name", "content"}], "alerts": {"name", "content"},
        "followers": [...], "fee_bps", "slippage_bps", "master_equity"}; checked at once
        (422 naming the field), then replayed by a worker."""
        return _run_out(await start(await request.body(), request.user.id))

    @post(
        "/{run_id:str}/run", operation_id="requeue_lab_run", status_code=202, responses=errors(409)
    )
    async def requeue(self, run_id: FromPath[str], requeue: FromDishka[RequeueLabRun]) -> LabRunOut:
        """Again, for a run still pending (its message was lost) or running for 30 minutes
        (its worker died); 409 for any other."""
        return _run_out(await requeue(run_id))

    @get("/", operation_id="list_lab_runs")
    async def recent(
        self,
        view: FromDishka[ViewLabRuns],
        limit: Annotated[int, Parameter(ge=1, le=200)] = 50,
    ) -> list[LabRunOut]:
        return [_run_out(run) for run in await view.recent(limit)]

    @get("/{run_id:str}", operation_id="get_lab_run")
    async def get_run(self, run_id: FromPath[str], view: FromDishka[ViewLabRuns]) -> LabRunOut:
        run = await view.get(run_id)
        if run.status is not LabRunStatus.DONE:
            return _run_out(run)
        outputs = await view.outputs(run_id)
        return _run_out(run, json.loads(outputs.report_json))

    @get("/{run_id:str}/files/{name:str}", operation_id="get_lab_run_file")
    async def file(
        self, run_id: FromPath[str], name: FromPath[str], view: FromDishka[ViewLabRuns]
    ) -> Response[Any]:
        outputs = await view.outputs(run_id)
        files: dict[str, tuple[str | bytes, str]] = {
            "report.json": (outputs.report_json, "application/json"),
            "trades.csv": (outputs.trades_csv, "text/csv; charset=utf-8"),
            "equity.png": (outputs.equity_png, "image/png"),
            "equity.html": (outputs.equity_html, "text/html; charset=utf-8"),
        }
        if name not in files:
            return Response({"status_code": 404, "detail": f"no file {name}"}, status_code=404)
        content, media_type = files[name]
        return Response(content, media_type=media_type)


LAB_ROUTE_HANDLERS = [LabController]
