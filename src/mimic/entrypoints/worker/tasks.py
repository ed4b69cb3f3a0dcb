"""The worker's tasks and the broker they run on (Redis Streams, or in-memory embedded)."""

import logging
import time
from typing import Any

from dishka.integrations.taskiq import FromDishka, inject
from taskiq import AsyncBroker, InMemoryBroker

from mimic.adapters.lab.queue import RUN_LAB_TASK
from mimic.adapters.taskiq_queue import EXECUTE_SIGNAL_TASK, VALIDATE_CONNECTION_TASK
from mimic.adapters.taskiq_streams import StreamBroker
from mimic.application import work_context
from mimic.application.execute_signal import ExecuteSignal
from mimic.application.master_accounts import CopyMasterFills
from mimic.application.monitor_positions import MonitorPositions
from mimic.application.portfolio_sync import SyncPortfolio
from mimic.application.subscription_expiry import RunSubscriptionExpiry
from mimic.application.sweep_signals import SweepUnfinishedSignals
from mimic.application.validate_connection import SweepUnvalidatedConnections, ValidateConnection
from mimic.entrypoints.config import Settings
from mimic.entrypoints.worker.activity import FanoutActivity
from mimic.entrypoints.worker.context import WorkContextMiddleware
from mimic.entrypoints.worker.lab import run_lab
from mimic.entrypoints.worker.notifications import DELIVER_TASK, deliver_notifications
from mimic.ports.metrics import Metrics
from mimic.ports.services import Clock

log = logging.getLogger(__name__)

SWEEP_TASK = "mimic.sweep_unfinished"
PORTFOLIO_SYNC_TASK = "mimic.sync_portfolio"
KEEPALIVE_TASK = "mimic.keepalive"
SUBSCRIPTION_EXPIRY_TASK = "mimic.subscription_expiry"
MONITOR_TASK = "mimic.monitor_positions"
MASTER_POLL_TASK = "mimic.copy_master_fills"
# Trading work: everything else is housekeeping, on a stream of its own.
TRADING_TASKS = frozenset({EXECUTE_SIGNAL_TASK})


@inject(patch_module=True)
async def execute_signal(
    signal_id: str,
    part: int = 0,  # messages queued before fan-out parts existed carry none
    *,
    interactor: FromDishka[ExecuteSignal],
    activity: FromDishka[FanoutActivity],
    metrics: FromDishka[Metrics],
    clock: FromDishka[Clock],
) -> None:
    started_at, started = clock.now(), time.monotonic()
    with activity.running():
        summary = await interactor(signal_id, part)
    metrics.fanout_finished(time.monotonic() - started)
    received_at = work_context.signal_received_at()  # set by the run, once it read the signal
    if received_at is not None:
        metrics.queue_lag((started_at - received_at).total_seconds())
    log.info(
        "signal %s part %d: %s%s",
        signal_id,
        part,
        summary.counts,
        "" if summary.finished else " (more)",
    )


@inject(patch_module=True)
async def sweep_unfinished(
    sweeper: FromDishka[SweepUnfinishedSignals],
    connections: FromDishka[SweepUnvalidatedConnections],
) -> None:
    await sweeper()
    await connections()


@inject(patch_module=True)
async def validate_connection(account_id: str, interactor: FromDishka[ValidateConnection]) -> None:
    account = await interactor(account_id)
    if account is not None:
        log.info("connection %s: %s", account_id, account.validation_status)


@inject(patch_module=True)
async def subscription_expiry(job: FromDishka[RunSubscriptionExpiry]) -> None:
    await job()


@inject(patch_module=True)
async def monitor_positions(monitor: FromDishka[MonitorPositions]) -> None:
    report = await monitor()
    if report.trailing_closes or report.dca_adds or report.protection_fills:
        log.info(
            "monitor: %d trailing close(s), %d DCA add(s), %d TP/SL fill(s)",
            len(report.trailing_closes),
            len(report.dca_adds),
            len(report.protection_fills),
        )


@inject(patch_module=True)
async def copy_master_fills(copy: FromDishka[CopyMasterFills]) -> None:
    stored = await copy()
    if stored:
        log.info("masters' accounts: %d new fill(s) became signals", stored)


@inject(patch_module=True)
async def sync_portfolio(sync: FromDishka[SyncPortfolio]) -> None:
    summary = await sync()
    log.info("portfolio sync: %s", summary)


async def keepalive() -> None:
    """Does nothing: a read that returns a message lets idle workers reclaim a dead one's."""


def housekeeping_stream(settings: Settings) -> str:
    return f"{settings.queue_name}:housekeeping"


def create_broker(settings: Settings) -> AsyncBroker:
    """The broker every process kicks through; in production it also reads the trading
    stream (signals' fan-outs), while everything else goes to the housekeeping stream."""
    if settings.redis_url is None:
        return _with_tasks(InMemoryBroker(max_async_tasks=100))
    housekeeping = housekeeping_stream(settings)

    def stream_of(task_name: str) -> str | None:
        return None if task_name in TRADING_TASKS else housekeeping

    return _with_tasks(
        _stream_broker(settings.redis_url, settings, settings.queue_name, stream_of=stream_of)
    )


def create_housekeeping_listener(settings: Settings) -> AsyncBroker:
    """What a worker reads the housekeeping stream with, beside the trading one: with
    consumers of its own, housekeeping never queues behind a burst of signals."""
    if settings.redis_url is None:
        raise ValueError("housekeeping has a stream of its own only with Redis")
    # Its jobs recur (each tick kicks them again): a bounded stream loses nothing for good.
    stream = housekeeping_stream(settings)
    return _with_tasks(_stream_broker(settings.redis_url, settings, stream, maxlen=10_000))


def _stream_broker(url: str, settings: Settings, stream: str, **options: Any) -> StreamBroker:
    # xread_count=1: a larger prefetch strands fetched messages when a worker stops.
    # Messages of a dead worker are reclaimed after idle_timeout by a live one.
    return StreamBroker(
        url,
        queue_name=stream,
        consumer_group_name="mimic-workers",
        xread_count=1,
        idle_timeout=int(settings.redis_idle_timeout.total_seconds() * 1000),
        unacknowledged_lock_timeout=30,
        **options,
    )


def _with_tasks(broker: AsyncBroker) -> AsyncBroker:
    """Every task on every broker: a message found on the other stream (a keep-alive, or
    one queued by an older release) still runs."""
    broker.add_middlewares(WorkContextMiddleware())
    broker.register_task(execute_signal, task_name=EXECUTE_SIGNAL_TASK)
    broker.register_task(sweep_unfinished, task_name=SWEEP_TASK)
    broker.register_task(validate_connection, task_name=VALIDATE_CONNECTION_TASK)
    broker.register_task(keepalive, task_name=KEEPALIVE_TASK)
    broker.register_task(subscription_expiry, task_name=SUBSCRIPTION_EXPIRY_TASK)
    broker.register_task(monitor_positions, task_name=MONITOR_TASK)
    broker.register_task(copy_master_fills, task_name=MASTER_POLL_TASK)
    broker.register_task(sync_portfolio, task_name=PORTFOLIO_SYNC_TASK)
    broker.register_task(deliver_notifications, task_name=DELIVER_TASK)
    broker.register_task(run_lab, task_name=RUN_LAB_TASK)
    return broker
