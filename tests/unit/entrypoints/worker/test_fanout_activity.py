import asyncio

import pytest

from mimic.entrypoints.worker.activity import FanoutActivity


async def test_idle_answers_at_once() -> None:
    assert await FanoutActivity().wait_idle(0)


async def test_a_waiter_goes_on_when_the_last_fanout_ends() -> None:
    activity = FanoutActivity()
    waiter = asyncio.ensure_future(activity.wait_idle(5))
    with activity.running():
        with activity.running():
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.01)
        assert not waiter.done()  # one fan-out still runs
    assert await waiter


async def test_waiting_is_bounded() -> None:
    activity = FanoutActivity()
    with activity.running():
        assert not await activity.wait_idle(0.01)
    assert await activity.wait_idle(0)


async def test_a_failed_fanout_does_not_hold_delivery_back() -> None:
    activity = FanoutActivity()
    with pytest.raises(RuntimeError), activity.running():
        raise RuntimeError("exchange down")
    assert await activity.wait_idle(0)
