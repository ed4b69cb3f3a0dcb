"""The account streams' one freeze of what a process holding them keeps for its life."""

import asyncio
import gc
from collections.abc import Iterator

import pytest

from mimic.entrypoints.ioc import streams


@pytest.fixture
def first_freeze(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A process that froze at start-up, as `mimic worker` and `serve` do, and has not
    frozen for streams yet; the test process collects as usual afterwards."""
    monkeypatch.setattr(streams, "_frozen_with_streams", False)
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@pytest.mark.usefixtures("first_freeze")
async def test_streams_freeze_once_after_the_start_up_freeze() -> None:
    at_start_up = gc.get_freeze_count()
    held = [[] for _ in range(1000)]  # what the streams keep, made after start-up
    settled = asyncio.Event()
    settled.set()
    await streams._freeze_once_settled(settled, 60)
    frozen = gc.get_freeze_count()
    assert frozen >= at_start_up + len(held)

    later = [[] for _ in range(1000)]
    await streams._freeze_once_settled(asyncio.Event(), 0)  # held again, never settled
    assert gc.get_freeze_count() < frozen + len(later)
