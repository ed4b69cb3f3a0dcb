"""The paper venue's order ids."""

import os
import time

import pytest

from mimic.adapters.paper.books import new_order_ids


def test_a_batchs_order_ids_come_from_one_read_of_the_random_source(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A read per id was a getrandom system call per order of a fan-out. The ids stay 32
    distinct hex digits led by the time (paper_orders' key grows at its end)."""
    reads: list[int] = []
    urandom = os.urandom

    def counted(size: int) -> bytes:
        reads.append(size)
        return urandom(size)

    monkeypatch.setattr(os, "urandom", counted)
    before = f"{time.time_ns():016x}"
    ids = new_order_ids(1000)
    assert reads == [8000]
    assert len(set(ids)) == 1000
    assert all(len(i) == 32 and int(i, 16) >= 0 and i == i.lower() for i in ids)
    assert before <= ids[0][:16] <= ids[-1][:16] <= f"{time.time_ns():016x}"
