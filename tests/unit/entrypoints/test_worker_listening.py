"""A worker keeps taking jobs when the queue fails, and stops when told to."""

import asyncio

from mimic.entrypoints.cli import listen_until


class FailingOnce:
    """A receiver whose first listen fails (Redis restarting); the next one is told to stop."""

    def __init__(self, attempts: list[str]) -> None:
        self._attempts = attempts

    async def listen(self, finish_event: asyncio.Event) -> None:
        self._attempts.append("listen")
        if len(self._attempts) == 1:
            raise ConnectionError("Redis went away")
        finish_event.set()


async def test_a_failed_queue_is_listened_to_again_until_the_worker_stops() -> None:
    attempts: list[str] = []
    finish = asyncio.Event()

    await asyncio.wait_for(
        listen_until(finish, lambda: FailingOnce(attempts), retry_after=0), timeout=5
    )

    assert attempts == ["listen", "listen"]
    assert finish.is_set()


async def test_a_stopped_worker_does_not_listen() -> None:
    attempts: list[str] = []
    finish = asyncio.Event()
    finish.set()

    await listen_until(finish, lambda: FailingOnce(attempts), retry_after=0)

    assert attempts == []
