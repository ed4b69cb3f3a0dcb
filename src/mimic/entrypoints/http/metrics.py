"""GET /metrics: Prometheus text, for an operator's scraper.

HTTP metrics come from Litestar's Prometheus middleware, the platform's own (mimic_*) from
the Metrics port's adapter. Off with MIMIC_METRICS_ENABLED=false; with MIMIC_METRICS_TOKEN
set, a scraper must send `Authorization: Bearer <token>`.
"""

import asyncio
import hmac
import os
from typing import Any

from dishka.integrations.litestar import FromDishka
from litestar import Controller, Response, get
from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.exceptions import NotAuthorizedException
from litestar.handlers.base import BaseRouteHandler
from litestar.plugins.prometheus import PrometheusConfig
from litestar.types import ControllerRouterHandler
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)

from mimic.application.check_readiness import CheckReadiness
from mimic.entrypoints.config import Settings
from mimic.ports.metrics import Metrics

METRICS_PATH = "/metrics"


def _token_guard(token: str) -> Any:
    expected = f"Bearer {token}".encode()

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        given = connection.headers.get("authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            raise NotAuthorizedException("send the metrics token: Authorization: Bearer <token>")

    return guard


def _registry() -> CollectorRegistry:
    """This process's metrics, or every process's of the host in multiprocess mode."""
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


def metrics_route_handlers(settings: Settings) -> list[ControllerRouterHandler]:
    if not settings.metrics_enabled:
        return []

    class MetricsController(Controller):
        path = METRICS_PATH
        guards = [_token_guard(settings.metrics_token)] if settings.metrics_token else None
        include_in_schema = False

        @get("/", operation_id="metrics", media_type=CONTENT_TYPE_LATEST)
        async def metrics(
            self, check_readiness: FromDishka[CheckReadiness], metrics: FromDishka[Metrics]
        ) -> Response[bytes]:
            # Whether Postgres and Redis answer, as seen from here at scrape time.
            for dependency, problem in (await check_readiness()).items():
                metrics.dependency_up(dependency, problem is None)
            body = await asyncio.to_thread(generate_latest, _registry())
            return Response(body, media_type=CONTENT_TYPE_LATEST)

    return [MetricsController]


def prometheus_middleware(settings: Settings) -> list[Any]:
    if not settings.metrics_enabled:
        return []
    config = PrometheusConfig(
        app_name="mimic",
        prefix="mimic_http",
        group_path=True,  # route templates, not paths with ids: bounded labels
        exclude=[f"^{METRICS_PATH}$"],
        # Requests only: an open page is `mimic_dashboard_connections`, and wrapping each
        # of its sends cost every live event.
        scopes={ScopeType.HTTP},
    )
    return [config.middleware]
