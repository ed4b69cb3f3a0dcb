"""Calls that arrive while others are in flight go together in the next round trip.

The webhook's alerts each cost a commit and a round trip of their own; under load, most of
the database's CPU per alert and much of the server's. Grouped, they share one: at most
`in_flight` groups run at once, and whatever arrives meanwhile waits for the first of them
to finish, then goes out as the next group. No timer: a lone call goes out at once, so the
grouping costs an alert nothing when the server is idle and saves the most when it is busy
(the way Postgres groups the commits of concurrent transactions into one WAL flush).

Each caller gets its own result; a group that fails gives every caller in it the failure.
"""

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Grouped(Generic[K, V]):
    """`run` answers a group of items with one result per item, in their order."""

    def __init__(
        self,
        run: Callable[[list[K]], Awaitable[Sequence[V]]],
        *,
        in_flight: int,
        max_group: int,
    ) -> None:
        self._run = run
        self._in_flight = in_flight
        self._max_group = max_group
        self._waiting: deque[tuple[K, asyncio.Future[V]]] = deque()
        self._senders = 0
        self._tasks: set[asyncio.Task[None]] = set()  # held: the loop keeps only weak ones

    async def __call__(self, item: K) -> V:
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._senders < self._in_flight:
            # Counted here and uncounted by the sender itself, in the same step as it sees
            # nothing left waiting: an item never waits with no sender to take it.
            self._senders += 1
            task = asyncio.create_task(self._send_while_waiting())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        # A caller that gives up (cancelled) leaves its item in the group: it may be sent.
        return await future

    async def _send_while_waiting(self) -> None:
        try:
            while self._waiting:
                count = min(len(self._waiting), self._max_group)
                group = [self._waiting.popleft() for _ in range(count)]
                await self._send(group)
        finally:
            self._senders -= 1

    async def _send(self, group: list[tuple[K, asyncio.Future[V]]]) -> None:
        try:
            results = await self._run([item for item, _ in group])
            settled = list(zip(group, results, strict=True))
        except Exception as exc:
            for _, future in group:
                if not future.done():
                    future.set_exception(exc)
            return
        except BaseException:  # cancelled (shutdown): so are its callers
            for _, future in group:
                future.cancel()
            raise
        for (_, future), result in settled:
            if not future.done():
                future.set_result(result)
