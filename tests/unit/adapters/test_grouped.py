"""Grouped calls: a lone call goes out at once; calls made while the groups allowed are in
flight go together in the next one; each caller gets its own result or its group's error."""

import asyncio

import pytest

from mimic.adapters.grouped import Grouped


async def settle() -> None:
    """Every task ready runs until it waits on something."""
    for _ in range(5):
        await asyncio.sleep(0)


class Recorder:
    """Answers each item doubled; `gate` holds every group until it is set."""

    def __init__(self) -> None:
        self.groups: list[list[int]] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def run(self, items: list[int]) -> list[int]:
        self.groups.append(items)
        await self.gate.wait()
        if -1 in items:
            raise ValueError("refused")
        return [item * 2 for item in items]


async def test_a_lone_call_goes_out_alone_and_at_once() -> None:
    recorder = Recorder()
    grouped = Grouped(recorder.run, in_flight=1, max_group=10)
    assert await grouped(3) == 6
    assert recorder.groups == [[3]]


async def test_calls_made_while_the_groups_are_in_flight_go_together_in_the_next() -> None:
    recorder = Recorder()
    recorder.gate.clear()
    grouped = Grouped(recorder.run, in_flight=1, max_group=10)
    first = asyncio.create_task(grouped(1))
    await settle()  # the first group is on its way, held
    later = [asyncio.create_task(grouped(n)) for n in (2, 3, 4)]
    await settle()
    recorder.gate.set()
    assert await first == 2
    assert [await task for task in later] == [4, 6, 8]
    assert recorder.groups == [[1], [2, 3, 4]]


async def test_a_group_is_never_larger_than_its_bound() -> None:
    recorder = Recorder()
    grouped = Grouped(recorder.run, in_flight=1, max_group=2)
    assert await asyncio.gather(*(grouped(n) for n in range(5))) == [0, 2, 4, 6, 8]
    assert recorder.groups == [[0, 1], [2, 3], [4]]


async def test_several_groups_fly_at_once_up_to_the_bound() -> None:
    recorder = Recorder()
    recorder.gate.clear()
    grouped = Grouped(recorder.run, in_flight=2, max_group=10)
    tasks = [asyncio.create_task(grouped(1))]
    await settle()
    tasks.append(asyncio.create_task(grouped(2)))
    await settle()
    tasks += [asyncio.create_task(grouped(n)) for n in (3, 4)]
    await settle()
    assert recorder.groups == [[1], [2]]  # two in flight; 3 and 4 wait for one of them
    recorder.gate.set()
    assert await asyncio.gather(*tasks) == [2, 4, 6, 8]
    assert recorder.groups == [[1], [2], [3, 4]]


async def test_a_failed_group_fails_each_of_its_callers_and_no_other() -> None:
    recorder = Recorder()
    recorder.gate.clear()
    grouped = Grouped(recorder.run, in_flight=1, max_group=10)
    first = asyncio.create_task(grouped(1))
    await settle()
    failing = [asyncio.create_task(grouped(n)) for n in (-1, 5)]
    await settle()
    recorder.gate.set()
    assert await first == 2
    for task in failing:
        with pytest.raises(ValueError, match="refused"):
            await task
    assert await grouped(7) == 14  # and the next group goes out as usual


async def test_a_caller_that_gives_up_leaves_the_others_their_results() -> None:
    recorder = Recorder()
    recorder.gate.clear()
    grouped = Grouped(recorder.run, in_flight=1, max_group=10)
    impatient = asyncio.create_task(grouped(1))
    patient = asyncio.create_task(grouped(2))
    await settle()
    impatient.cancel()
    recorder.gate.set()
    assert await patient == 4
    assert recorder.groups == [[1, 2]]  # the item of the one that gave up was still sent
