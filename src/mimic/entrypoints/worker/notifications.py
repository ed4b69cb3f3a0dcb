"""Delivering the notification outbox: a worker task and the embedded mode's loop."""

import asyncio
import logging

from dishka import AsyncContainer
from dishka.integrations.taskiq import FromDishka, inject

from mimic.application.deliver_notifications import DeliverNotifications
from mimic.entrypoints.worker.activity import FanoutActivity

log = logging.getLogger(__name__)

DELIVER_TASK = "mimic.deliver_notifications"
# A pass that finished this many goes again at once: the outbox is being drained.
MAX_PASSES = 20
# Each pass first lets a fan-out running in this process finish, waiting at most this long:
# notifications come after orders, yet are never held back for good by a stream of signals.
YIELD_SECONDS = 10.0


async def drain(container: AsyncContainer) -> int:
    """Deliver what is due, pass after pass while passes keep finishing notifications."""
    activity = await container.get(FanoutActivity)
    total = 0
    for _ in range(MAX_PASSES):
        await activity.wait_idle(YIELD_SECONDS)
        async with container() as request:
            deliver = await request.get(DeliverNotifications)
            finished = await deliver()
        total += finished
        if not finished:
            break
    return total


@inject(patch_module=True)
async def deliver_notifications(
    deliver: FromDishka[DeliverNotifications], activity: FromDishka[FanoutActivity]
) -> None:
    await activity.wait_idle(YIELD_SECONDS)
    finished = await deliver()
    if finished:
        log.info("delivered %d notifications", finished)


async def deliver_forever(container: AsyncContainer, interval: float) -> None:
    """Embedded mode's sender, next to the sweeper."""
    while True:
        try:
            await drain(container)
        except Exception:  # keep delivering; the outbox keeps what failed
            log.exception("notification round failed")
        await asyncio.sleep(interval)
