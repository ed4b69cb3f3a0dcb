"""The queue's sender in the real Redis: kicks made at once go out together, each to its
own stream and in order, and a message Redis refuses fails its own kick and no other."""

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from taskiq import BrokerMessage

from mimic.adapters.taskiq_streams import StreamBroker


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def broker(redis_url: str) -> AsyncIterator[StreamBroker]:
    broker = StreamBroker(redis_url, queue_name=f"test:{uuid.uuid4().hex}:signals")
    yield broker
    await broker.shutdown()


def message(n: int, **labels: str) -> BrokerMessage:
    return BrokerMessage(
        task_id=f"task-{n}", task_name="mimic.test", message=f"body-{n}".encode(), labels=labels
    )


async def bodies(redis: Redis, stream: str) -> list[bytes]:
    return [fields[b"data"] for _, fields in await redis.xrange(stream)]


async def test_kicks_made_at_once_each_reach_their_stream_in_order(
    broker: StreamBroker, redis: Redis
) -> None:
    other = f"test:{uuid.uuid4().hex}:other"
    await asyncio.gather(
        *(broker.kick(message(n)) for n in range(30)),
        broker.kick(message(99, queue_name=other)),
    )
    assert await bodies(redis, broker.queue_name) == [f"body-{n}".encode() for n in range(30)]
    assert await bodies(redis, other) == [b"body-99"]
    await redis.delete(broker.queue_name, other)


async def test_a_message_redis_refuses_fails_its_own_kick_only(
    broker: StreamBroker, redis: Redis
) -> None:
    not_a_stream = f"test:{uuid.uuid4().hex}:string"
    await redis.set(not_a_stream, "taken")  # an XADD to it is refused (WRONGTYPE)
    kicks = await asyncio.gather(
        broker.kick(message(1)),
        broker.kick(message(2, queue_name=not_a_stream)),
        broker.kick(message(3)),
        return_exceptions=True,
    )
    assert kicks[0] is None
    assert kicks[2] is None
    assert "WRONGTYPE" in str(kicks[1])
    assert await bodies(redis, broker.queue_name) == [b"body-1", b"body-3"]
    await redis.delete(broker.queue_name, not_a_stream)
