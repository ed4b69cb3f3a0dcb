"""Account stream leases in the real Redis: shared fairly, each account by one worker, and a
dead worker's accounts taken over within one lease period."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from redis.asyncio import Redis

from mimic.adapters.redis.stream_leases import RedisStreamLeases

ACCOUNTS = [f"account-{n:02}" for n in range(10)]
PERIOD = timedelta(seconds=1)


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


def workers(redis: Redis, count: int) -> list[RedisStreamLeases]:
    prefix = f"test:{uuid.uuid4().hex}:streams:"  # a deployment of its own
    return [
        RedisStreamLeases(redis, prefix=prefix, holder_id=f"worker-{n}", period=PERIOD)
        for n in range(count)
    ]


async def rounds(leases: list[RedisStreamLeases], held: list[set[str]], count: int) -> None:
    """`count` refreshes of every live worker, as their holders would run them."""
    for _ in range(count):
        for n, worker in enumerate(leases):
            held[n] = await worker.hold(ACCOUNTS, held[n])


async def test_two_workers_share_the_accounts_and_never_hold_one_twice(redis: Redis) -> None:
    first, second = workers(redis, 2)
    held: list[set[str]] = [set(), set()]
    held[0] = await first.hold(ACCOUNTS, set())
    assert held[0] == set(ACCOUNTS)  # alone so far: it takes them all
    await rounds([first, second], held, 3)  # the second one joins; the first gives room
    assert sorted(held[0] | held[1]) == ACCOUNTS
    assert held[0] & held[1] == set()
    assert (len(held[0]), len(held[1])) == (5, 5)


async def test_a_dead_workers_accounts_move_within_one_lease_period(redis: Redis) -> None:
    first, second = workers(redis, 2)
    held: list[set[str]] = [set(), set()]
    await rounds([first, second], held, 3)
    assert len(held[1]) == 5
    # the first worker dies: it renews nothing from now on
    await asyncio.sleep(PERIOD.total_seconds() + 0.1)
    held[1] = await second.hold(ACCOUNTS, held[1])
    assert held[1] == set(ACCOUNTS)


async def test_released_accounts_are_free_at_once(redis: Redis) -> None:
    first, second = workers(redis, 2)
    held: list[set[str]] = [set(), set()]
    await rounds([first, second], held, 3)
    await first.release(held[0])  # a worker stopping
    assert await second.hold(ACCOUNTS, held[1]) == set(ACCOUNTS)


async def test_a_stalled_worker_renews_none_of_what_another_took_over(redis: Redis) -> None:
    many = [f"account-{n:04}" for n in range(1500)]  # more than one call's chunk of leases
    first, second = workers(redis, 2)
    held_first = await first.hold(many, set())
    assert held_first == set(many)
    await asyncio.sleep(PERIOD.total_seconds() + 0.1)  # the first stalls past its leases
    held_second = await second.hold(many, set())
    assert held_second == set(many)  # alone among the live ones: all of them
    assert await first.hold(many, held_first) == set()  # back: none renewed, none free
    kept = await second.hold(many, held_second)  # the first is live again: room for it
    assert kept == set(sorted(many)[:750])
    assert await first.hold(many, set()) == set(many) - kept


async def test_an_account_its_worker_stopped_holding_is_free_for_another_at_once(
    redis: Redis,
) -> None:
    first, second = workers(redis, 2)
    held_first = await first.hold(ACCOUNTS, set())
    assert held_first == set(ACCOUNTS)
    # its stream ended (or the account left the listing): the first holds it no more
    held_first = await first.hold(ACCOUNTS[1:], held_first - {ACCOUNTS[0]})
    assert ACCOUNTS[0] in await second.hold(ACCOUNTS, set())  # not a period later


async def test_a_worker_keeps_its_accounts_across_many_periods_with_no_one_renewed(
    redis: Redis,
) -> None:
    first, second = workers(redis, 2)
    held: list[set[str]] = [set(), set()]
    await rounds([first, second], held, 3)
    for _ in range(8):  # two lease periods of refreshes every third of one
        await asyncio.sleep(PERIOD.total_seconds() / 3)
        await rounds([first, second], held, 1)
        assert held[0] | held[1] == set(ACCOUNTS)
        assert held[0] & held[1] == set()
    assert (len(held[0]), len(held[1])) == (5, 5)


async def test_a_worker_short_of_its_share_looks_for_free_accounts_again_only_on_a_change(
    redis: Redis,
) -> None:
    three = ACCOUNTS[:3]  # 2 and 1: the second is one short of its share (2) for good
    first, second = workers(redis, 2)
    looks = 0
    take = second._take_free

    async def counted(**kwargs: object) -> object:
        nonlocal looks
        looks += 1
        return await take(**kwargs)

    second._take_free = counted  # type: ignore[method-assign]
    held: list[set[str]] = [set(), set()]
    for _ in range(3):
        for n, worker in enumerate((first, second)):
            held[n] = await worker.hold(three, held[n])
    assert (len(held[0]), len(held[1])) == (2, 1)
    looks = 0
    for _ in range(3):
        held[1] = await second.hold(three, held[1])
    assert looks == 0  # nothing changed: every account was looked at already
    four = ACCOUNTS[:4]
    held[1] = await second.hold(four, held[1])  # a new account: looked for at once
    assert ACCOUNTS[3] in held[1]
    assert looks == 1
    five = ACCOUNTS[:5]
    held[0] = await first.hold(five, held[0])
    held[1] = await second.hold(five, held[1])
    assert (len(held[0]), len(held[1])) == (3, 2)
    looks = 0
    held[1] = await second.hold(five, held[1])
    assert looks == 0
    held[0] = await first.hold(five, held[0] - {ACCOUNTS[0]})  # the first lets one go
    await asyncio.sleep(PERIOD.total_seconds() + 0.1)  # and dies: within a period, taken
    held[1] = await second.hold(five, held[1])
    assert held[1] == set(five)
