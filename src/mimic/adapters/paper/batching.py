"""Concurrent calls in one event-loop turn share one database transaction.

A fan-out asks the venue about thousands of accounts at once; one round trip per account
would make the venue, not the exchange logic, the bottleneck. Each caller still gets its own
result or its own exception.
"""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")

BatchRunner = Callable[[Sequence[K]], Awaitable[Sequence[V | Exception]]]


class Coalescer(Generic[K, V]):
    def __init__(self, run: BatchRunner[K, V], *, max_batch: int = 500) -> None:
        self._run = run
        self._max_batch = max_batch
        self._pending: list[tuple[K, asyncio.Future[V]]] = []
        self._scheduled = False
        self._running: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    async def __call__(self, key: K) -> V:
        if not self._pending or self._loop is None:
            # The first caller of a batch finds the loop; the others join it in the same turn.
            # (Finding it is a system call, getpid, and a fan-out calls this thousands of times.)
            self._loop = asyncio.get_running_loop()
        loop = self._loop
        future: asyncio.Future[V] = loop.create_future()
        self._pending.append((key, future))
        if len(self._pending) >= self._max_batch:
            self._flush()
        elif not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)  # after every caller ready in this turn has queued
        return await future

    def _flush(self) -> None:
        self._scheduled = False
        batch, self._pending = self._pending, []
        if batch:
            task = asyncio.ensure_future(self._settle(batch))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _settle(self, batch: list[tuple[K, asyncio.Future[V]]]) -> None:
        try:
            results = await self._run([key for key, _ in batch])
        except Exception as exc:  # the whole transaction failed: every caller learns why
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        except BaseException:  # cancelled (shutdown): so are its callers, or they wait forever
            for _, future in batch:
                future.cancel()
            raise
        for (_, future), result in zip(batch, results, strict=True):
            if future.done():
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)
