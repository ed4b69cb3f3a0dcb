"""The Litestar application; `create_app(settings, *overrides)` is what tests build too."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from dishka import AsyncContainer, Provider
from dishka import Scope as DIScope
from dishka.integrations.litestar import DishkaRouter
from dishka.integrations.taskiq import setup_dishka as setup_taskiq_dishka
from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.enums import ScopeType
from litestar.exceptions import ValidationException
from litestar.openapi import OpenAPIConfig
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import ASGIApp, Receive, Scope, Send
from taskiq import AsyncBroker, InMemoryBroker

from mimic.application.master_accounts import CopyMasterFills
from mimic.application.monitor_positions import MonitorPositions
from mimic.application.portfolio_sync import SyncPortfolio
from mimic.application.subscription_expiry import RunSubscriptionExpiry
from mimic.application.sweep_signals import SweepUnfinishedSignals
from mimic.application.validate_connection import SweepUnvalidatedConnections
from mimic.domain.errors import DomainError
from mimic.entrypoints.config import Settings
from mimic.entrypoints.http.contract import ClosedStructSchemaPlugin, document_contract
from mimic.entrypoints.http.errors import (
    domain_error_handler,
    internal_error_handler,
    too_deeply_nested_handler,
    validation_error_handler,
)
from mimic.entrypoints.http.input_guard import check_input
from mimic.entrypoints.http.metrics import metrics_route_handlers, prometheus_middleware
from mimic.entrypoints.http.request_ids import request_id_middleware
from mimic.entrypoints.http.routes import ROUTE_HANDLERS
from mimic.entrypoints.http.security import make_jwt_auth
from mimic.entrypoints.http.tracing import tracing_middleware
from mimic.entrypoints.http.web_security import csrf_middleware, security_headers
from mimic.entrypoints.ioc.live import LiveEventsProvider, make_pages
from mimic.entrypoints.ioc.root import build_container
from mimic.entrypoints.ioc.streams import holding_account_streams
from mimic.entrypoints.tracing import flush_traces
from mimic.entrypoints.web.live import live_route
from mimic.entrypoints.web.site import docs_ui, template_config, web_routers
from mimic.entrypoints.worker.notifications import deliver_forever
from mimic.entrypoints.worker.tasks import create_broker

log = logging.getLogger(__name__)

# How long the in-process worker's running tasks (a fan-out, say) may take to finish when
# the process stops, before the database they use is closed under them.
SHUTDOWN_GRACE_SECONDS = 10.0

Job = (
    SweepUnfinishedSignals
    | SweepUnvalidatedConnections
    | RunSubscriptionExpiry
    | MonitorPositions
    | CopyMasterFills
    | SyncPortfolio
)


async def _every(app: Litestar, interval: float, job: type[Job]) -> None:
    """Embedded mode's scheduler: run a periodic job (sweepers, monitor, subscription expiry,
    portfolio sync)."""
    container = app.state.dishka_container
    while True:
        await asyncio.sleep(interval)
        try:
            async with container() as request_container:
                run = await request_container.get(job)
                await run()
        except Exception:  # keep going; the next round retries
            log.exception("periodic job %s failed", job.__name__)


async def _stop_in_process_tasks(broker: InMemoryBroker) -> None:
    """The in-process worker's running tasks get SHUTDOWN_GRACE_SECONDS to finish; those
    still running are then cancelled and unwind (their transactions rolled back) while the
    database is still open: left running, they would go on using it after it is closed.
    Unfinished signals are driven again by the next start's sweeper."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(broker.wait_all()), SHUTDOWN_GRACE_SECONDS)
    running = list(broker._running_tasks)  # taskiq keeps them there (what wait_all awaits)
    if not running:
        return
    log.warning("stopping %d in-process tasks still running at shutdown", len(running))
    for task in running:
        task.cancel()
    _, left = await asyncio.wait(running, timeout=SHUTDOWN_GRACE_SECONDS)
    if left:
        log.error("%d in-process tasks did not stop; their connections are closed", len(left))


def _with_request_containers(app: ASGIApp, container: AsyncContainer) -> ASGIApp:
    """dishka's `setup_dishka` for Litestar: a request container per HTTP request (a session
    one per WebSocket), where `FromDishka` and the authentication find it. Without the
    `Request` dishka's builds per call to offer its providers, as none here asks for one
    (with reading the state through it, a twentieth of the webhook's CPU)."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP:
            di_scope = DIScope.REQUEST
        elif scope["type"] == ScopeType.WEBSOCKET:
            di_scope = DIScope.SESSION
        else:
            await app(scope, receive, send)
            return
        async with container(scope=di_scope) as request_container:
            # What `connection.state.dishka_container` reads (a server may give no state).
            scope.setdefault("state", {})["dishka_container"] = request_container
            await app(scope, receive, send)

    return middleware


def create_app(
    settings: Settings,
    *overrides: Provider,
    broker: AsyncBroker | None = None,
    embedded_worker: bool | None = None,
) -> Litestar:
    """`embedded_worker` (default: when no Redis is configured) runs tasks in this process."""
    broker = broker or create_broker(settings)
    run_worker = settings.embedded if embedded_worker is None else embedded_worker
    pages = make_pages(settings)
    # Test overrides come later and win.
    container = build_container(settings, broker, LiveEventsProvider(pages), *overrides)
    jwt_auth = make_jwt_auth(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        await broker.startup()
        jobs = []
        if run_worker:
            jobs = [
                asyncio.create_task(
                    _every(app, settings.sweep_interval.total_seconds(), SweepUnfinishedSignals)
                ),
                asyncio.create_task(
                    _every(
                        app, settings.sweep_interval.total_seconds(), SweepUnvalidatedConnections
                    )
                ),
                asyncio.create_task(
                    _every(
                        app,
                        settings.subscription_check_interval.total_seconds(),
                        RunSubscriptionExpiry,
                    )
                ),
                asyncio.create_task(
                    _every(app, settings.monitor_interval.total_seconds(), MonitorPositions)
                ),
                asyncio.create_task(
                    _every(app, settings.master_poll_interval.total_seconds(), CopyMasterFills)
                ),
                asyncio.create_task(
                    _every(app, settings.portfolio_sync_interval.total_seconds(), SyncPortfolio)
                ),
                asyncio.create_task(
                    deliver_forever(container, settings.notify_interval.total_seconds())
                ),
            ]
        try:
            async with contextlib.AsyncExitStack() as streams:
                await streams.enter_async_context(pages.running())
                if run_worker and settings.account_streams:
                    await streams.enter_async_context(holding_account_streams(container, settings))
                yield
        finally:
            for job in jobs:
                job.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await job
            if run_worker and isinstance(broker, InMemoryBroker):
                await _stop_in_process_tasks(broker)
            await broker.shutdown()
            await container.close()
            await flush_traces()

    app = Litestar(
        route_handlers=[
            DishkaRouter("", route_handlers=[*ROUTE_HANDLERS, *metrics_route_handlers(settings)]),
            live_route(pages),
            *web_routers(),
        ],
        template_config=template_config(),
        on_app_init=[jwt_auth.on_app_init],
        plugins=[ClosedStructSchemaPlugin()],
        middleware=[
            request_id_middleware,
            # Without an endpoint every span is a no-op: a request need not make one.
            *([tracing_middleware] if settings.otel_endpoint else []),
            *prometheus_middleware(settings),
            csrf_middleware,
        ],
        before_send=[security_headers(settings)],
        before_request=check_input,
        cors_config=(
            CORSConfig(allow_origins=list(settings.cors_origins), allow_credentials=True)
            if settings.cors_origins
            else None
        ),
        exception_handlers={
            DomainError: domain_error_handler,
            ValidationException: validation_error_handler,
            RecursionError: too_deeply_nested_handler,
            HTTP_500_INTERNAL_SERVER_ERROR: internal_error_handler,
        },
        lifespan=[lifespan],
        openapi_config=OpenAPIConfig(title="Mimic", version="0.1.0", render_plugins=[docs_ui()]),
        request_max_body_size=1024 * 1024,
        debug=False,
        # The process configures logging (`mimic` CLI): Litestar's own config would replace
        # the root handlers and hide our tracebacks from them.
        logging_config=None,
    )
    app.state.jwt_auth = jwt_auth
    document_contract(app)
    app.asgi_handler = _with_request_containers(app.asgi_handler, container)
    app.state.dishka_container = container
    if run_worker:
        setup_taskiq_dishka(container, broker)
    return app
