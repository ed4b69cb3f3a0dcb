"""What the fan-out needs from everything else running in its process: to go first."""

import asyncio
import contextlib
from collections.abc import Iterator


class FanoutActivity:
    """Counts the signals being fanned out in this process right now.

    Notification delivery waits for them, a bounded time: a follower's order must not queue
    behind other followers' "order filled" messages for the one CPU an event loop has.
    """

    def __init__(self) -> None:
        self._running = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        self._running += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._running -= 1
            if not self._running:
                self._idle.set()

    async def wait_idle(self, at_most: float) -> bool:
        """Waits until no fan-out runs here, or `at_most` seconds; True when idle."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), at_most)
        return self._idle.is_set()
