"""The Redis Streams broker the workers share: trading work and housekeeping on separate
streams, and a consumer group that comes back when Redis lost it."""

import asyncio
import logging
from collections.abc import AsyncGenerator, Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError
from taskiq import AckableMessage, BrokerMessage
from taskiq_redis import RedisStreamBroker

from mimic.adapters.grouped import Grouped

log = logging.getLogger(__name__)

GROUP_DECLARE_TIMEOUT_SECONDS = 2.0
# Pipelines of kicks on their way at once, and kicks in one at most.
KICKS_IN_FLIGHT = 2
MAX_KICKS = 256


def _this_stream(task_name: str) -> str | None:
    return None


class StreamBroker(RedisStreamBroker):
    """taskiq-redis's stream broker with three changes.

    - One Redis client, with a plain pool of its own, sends every message: its own kick
      builds a client per message, which was 60 % of enqueueing a signal at the webhook
      (py-spy of bench/intake.py). Messages kicked while others are on their way go
      together in one pipeline (adapters/grouped.py).
    - `stream_of(task_name)` names the stream a task's messages go to (None: this broker's
      own); a `queue_name` label still wins.
    - When Redis comes back empty (restart without persistence, FLUSHALL, failover to an
      empty replica), reading answers NOGROUP; the group is created again, from the start
      of the stream so what was queued meanwhile is read, and listening goes on. The
      database re-drives what the lost messages carried.
    """

    def __init__(
        self,
        url: str,
        *,
        stream_of: Callable[[str], str | None] = _this_stream,
        **options: Any,
    ) -> None:
        super().__init__(url, consumer_id="0", **options)
        self._stream_of = stream_of
        # A pool of its own, not taskiq-redis's blocking one: waiting on that pool's
        # condition cost a kick at the webhook as much as the XADD (py-spy, bench/intake.py).
        # A kick is bounded by its caller's timeout.
        self._sender = Redis.from_url(url)
        # Kicks made while others are on their way go together in one pipeline: one round
        # trip, and one socket write and read, for a burst of alerts.
        self._sends = Grouped(self._xadd_all, in_flight=KICKS_IN_FLIGHT, max_group=MAX_KICKS)

    async def shutdown(self) -> None:
        await super().shutdown()
        await self._sender.aclose()

    async def kick(self, message: BrokerMessage) -> None:
        stream = (
            message.labels.get("queue_name")
            or self._stream_of(message.task_name)
            or self.queue_name
        )
        refused = await self._sends((stream, message.message))
        if refused is not None:
            raise refused

    async def _xadd_all(self, messages: list[tuple[str, bytes]]) -> list[Exception | None]:
        """One XADD per message in one pipeline (not a transaction); each message's own
        error, if Redis refused that one."""
        pipeline = self._sender.pipeline(transaction=False)
        for stream, data in messages:
            pipeline.xadd(stream, {b"data": data}, maxlen=self.maxlen, approximate=self.approximate)
        results = await pipeline.execute(raise_on_error=False)
        return [result if isinstance(result, Exception) else None for result in results]

    async def _declare_consumer_group(self) -> None:
        """Bounded, and never fatal: with Redis down or hung at start-up, a process still
        starts (the HTTP one only kicks), and a reader creates the group once it answers."""
        try:
            async with asyncio.timeout(GROUP_DECLARE_TIMEOUT_SECONDS):
                await super()._declare_consumer_group()
        except (RedisError, OSError) as exc:  # TimeoutError included
            log.warning(
                "consumer group %s of %s not declared, Redis failed: %s",
                self.consumer_group_name,
                self.queue_name,
                exc.__class__.__name__,
            )

    async def listen(self) -> AsyncGenerator[AckableMessage, None]:
        while True:
            try:
                async for message in super().listen():
                    yield message
            except ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    raise
                log.warning(
                    "consumer group %s of %s is gone (Redis came back empty?): creating it again",
                    self.consumer_group_name,
                    self.queue_name,
                )
                await self._declare_consumer_group()
