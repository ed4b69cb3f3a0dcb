"""The worker's tasks and the broker they run on (Redis Streams, or in-memory embedded)."""

import logging
from typing import Any

from dishka.integrations.taskiq import FromDishka, inject
from redis.asyncio import Redis
from taskiq import AsyncBroker, BrokerMessage, InMemoryBroker
from taskiq_redis import RedisStreamBroker

from mimic.adapters.lab.queue import RUN_LAB_TASK
from mimic.adapters.taskiq_queue import EXECUTE_SIGNAL_TASK, VALIDATE_CONNECTION_TASK
from mimic.application.execute_signal import ExecuteSignal
from mimic.application.monitor_positions import MonitorPositions
from mimic.application.platform_admin import SweepUnfinishedSignals
from mimic.application.portfolio_sync import SyncPortfolio
from mimic.application.subscription_expiry import RunSubscriptionExpiry
from mimic.application.validate_connection import SweepUnvalidatedConnections, ValidateConnection
from mimic.entrypoints.config import Settings
from mimic.entrypoints.worker.activity import FanoutActivity
from mimic.entrypoints.worker.lab import run_lab
from mimic.entrypoints.worker.notifications import DELIVER_TASK, deliver_notifications

log = logging.getLogger(__name__)

SWEEP_TASK = "mimic.sweep_unfinished"
PORTFOLIO_SYNC_TASK = "mimic.sync_portfolio"
KEEPALIVE_TASK = "mimic.keepalive"
SUBSCRIPTION_EXPIRY_TASK = "mimic.subscription_expiry"
MONITOR_TASK = "mimic.monitor_positions"


@inject(patch_module=True)
async def execute_signal(
    signal_id: str,
    part: int = 0,  # messages queued before fan-out parts existed carry none
    *,
    interactor: FromDishka[ExecuteSignal],
    activity: FromDishka[FanoutActivity],
) -> None:
    with activity.running():
        summary = await interactor(signal_id, part)
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
async def sync_portfolio(sync: FromDishka[SyncPortfolio]) -> None:
    summary = await sync()
    log.info("portfolio sync: %s", summary)


async def keepalive() -> None:
    """Does nothing: a read that returns a message lets idle workers reclaim a dead one's."""


class SignalStreamBroker(RedisStreamBroker):
    """taskiq-redis's stream broker, sending every message through one Redis client.

    Its own kick builds a Redis client per message, which was 60 % of enqueueing a signal at
    the webhook (py-spy of bench/intake.py); the messages it writes are the same.
    """

    def __init__(self, url: str, **options: Any) -> None:
        super().__init__(url, **options)
        self._sender = Redis(connection_pool=self.connection_pool)

    async def kick(self, message: BrokerMessage) -> None:
        await self._sender.xadd(
            message.labels.get("queue_name") or self.queue_name,
            {b"data": message.message},
            maxlen=self.maxlen,
            approximate=self.approximate,
        )


def create_broker(settings: Settings) -> AsyncBroker:
    broker: AsyncBroker
    if settings.redis_url is None:
        broker = InMemoryBroker(max_async_tasks=100)
    else:
        # xread_count=1: a larger prefetch strands fetched messages when a worker stops.
        # Messages of a dead worker are reclaimed after idle_timeout by a live one.
        broker = SignalStreamBroker(
            url=settings.redis_url,
            queue_name=settings.queue_name,
            consumer_group_name="mimic-workers",
            xread_count=1,
            idle_timeout=int(settings.redis_idle_timeout.total_seconds() * 1000),
            unacknowledged_lock_timeout=30,
        )
    broker.register_task(execute_signal, task_name=EXECUTE_SIGNAL_TASK)
    broker.register_task(sweep_unfinished, task_name=SWEEP_TASK)
    broker.register_task(validate_connection, task_name=VALIDATE_CONNECTION_TASK)
    broker.register_task(keepalive, task_name=KEEPALIVE_TASK)
    broker.register_task(subscription_expiry, task_name=SUBSCRIPTION_EXPIRY_TASK)
    broker.register_task(monitor_positions, task_name=MONITOR_TASK)
    broker.register_task(sync_portfolio, task_name=PORTFOLIO_SYNC_TASK)
    broker.register_task(deliver_notifications, task_name=DELIVER_TASK)
    broker.register_task(run_lab, task_name=RUN_LAB_TASK)
    return broker
