"""GET /metrics: Prometheus text, for an operator's scraper.

HTTP metrics (mimic_http_*) come from the middleware below, the platform's own (mimic_*)
from the Metrics port's adapter. Off with MIMIC_METRICS_ENABLED=false; with MIMIC_METRICS_TOKEN
set, a scraper must send `Authorization: Bearer <token>`.
"""

import asyncio
import hmac
import os
import time
from typing import Any

from dishka.integrations.litestar import FromDishka
from litestar import Controller, Response, get
from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.exceptions import NotAuthorizedException
from litestar.handlers.base import BaseRouteHandler
from litestar.types import ASGIApp, ControllerRouterHandler, Message, Receive, Scope, Send
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
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


# The names, labels and meanings of Litestar's Prometheus middleware (prefix mimic_http),
# which these replace: it built a Request per call through a generic alias and looked every
# child up again, a tenth of the webhook's CPU (py-spy of bench/intake.py).
_LABELS = ("method", "path", "status_code", "app_name")
_APP_NAME = "mimic"
_REQUESTS = Counter("mimic_http_requests_total", "Total requests", _LABELS)
_ERRORS = Counter("mimic_http_requests_error_total", "Total errors in requests", _LABELS)
_DURATION = Histogram(
    "mimic_http_request_duration_seconds", "Request duration, in seconds", _LABELS
)
_IN_PROGRESS = Gauge(
    "mimic_http_requests_in_progress",
    "Total requests currently in progress",
    _LABELS,
    multiprocess_mode="livesum",
)
# Children by (method, route template[, status]): both are bounded, the route being one
# that matched (the middleware runs inside the router).
_in_progress: dict[tuple[str, str], Any] = {}
_finished: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def _in_progress_of(method: str, path: str) -> Any:
    child = _in_progress.get((method, path))
    if child is None:
        # As Litestar's did: the gauge's status_code is always 200.
        child = _in_progress[method, path] = _IN_PROGRESS.labels(method, path, 200, _APP_NAME)
    return child


def _finished_of(method: str, path: str, status: int) -> tuple[Any, Any]:
    children = _finished.get((method, path, status))
    if children is None:
        labels = (method, path, status, _APP_NAME)
        children = _finished[method, path, status] = (
            _REQUESTS.labels(*labels),
            _DURATION.labels(*labels),
        )
    return children


def http_metrics_middleware(app: ASGIApp) -> ASGIApp:
    """Counts HTTP requests by method, route template and status, and times them (until
    the response's last body part is sent). WebSockets and /metrics itself are not counted:
    an open page is `mimic_dashboard_connections`."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or scope["path"] == METRICS_PATH:
            await app(scope, receive, send)
            return
        started = time.perf_counter()
        method, path = scope["method"], scope["path_template"]
        status = 200
        duration = 0.0

        async def timed_send(message: Message) -> None:
            nonlocal status, duration
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                duration = time.perf_counter() - started
            await send(message)

        in_progress = _in_progress_of(method, path)
        in_progress.inc()
        try:
            await app(scope, receive, timed_send)
        finally:
            in_progress.dec()
            count, timing = _finished_of(method, path, status)
            if status >= 500:
                _ERRORS.labels(method, path, status, _APP_NAME).inc()
            count.inc()
            timing.observe(duration)

    return middleware


def prometheus_middleware(settings: Settings) -> list[Any]:
    if not settings.metrics_enabled:
        return []
    return [http_metrics_middleware]
