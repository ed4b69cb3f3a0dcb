"""The paper venue's batching: each caller of a batch gets its own outcome, whatever
happens to the batch."""

import asyncio
from collections.abc import Sequence

import pytest

from mimic.adapters.paper.batching import Coalescer


async def test_callers_of_a_batch_cancelled_midway_are_cancelled_not_left_waiting() -> None:
    started = asyncio.Event()

    async def never_answers(keys: Sequence[str]) -> list[str]:
        started.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    coalesce = Coalescer[str, str](never_answers)
    callers = [asyncio.create_task(coalesce(key)) for key in ("a", "b")]
    await started.wait()
    # A shutdown cancels every task; here only the batch's, to see what its callers get.
    mine = {asyncio.current_task(), *callers}
    for task in asyncio.all_tasks() - mine:
        task.cancel()
    for caller in callers:
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(caller, timeout=1)


async def test_each_caller_gets_its_own_result_or_exception() -> None:
    async def run(keys: Sequence[int]) -> list[int | Exception]:
        return [ValueError(key) if key < 0 else key * 2 for key in keys]

    coalesce = Coalescer[int, int](run)
    outcomes = await asyncio.gather(coalesce(1), coalesce(-1), coalesce(3), return_exceptions=True)
    assert (outcomes[0], outcomes[2]) == (2, 6)
    assert isinstance(outcomes[1], ValueError)
