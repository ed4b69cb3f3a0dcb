"""Liveness and readiness (docs/operator-guide.md). Readiness asks `CheckReadiness`."""

from typing import Any

from dishka.integrations.litestar import FromDishka
from litestar import Controller, Response, get

from mimic.application.check_readiness import CheckReadiness
from mimic.entrypoints.http.contract import errors
from mimic.entrypoints.http.errors import error_body
from mimic.entrypoints.http.health.schemas import Health


class HealthController(Controller):
    path = "/health"

    @get("/", operation_id="health")
    async def health(self) -> Health:
        return Health(status="ok")

    @get("/ready", operation_id="health_ready", responses=errors(503))
    async def ready(self, check_readiness: FromDishka[CheckReadiness]) -> Response[Any]:
        for dependency, problem in (await check_readiness()).items():
            if problem is not None:
                return Response(error_body(503, f"{dependency}: {problem}"), status_code=503)
        return Response({"status": "ok"}, status_code=200)
