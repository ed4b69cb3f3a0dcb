import asyncio
import logging

from taskiq import AsyncBroker
from taskiq.kicker import AsyncKicker

from mimic.ports.credentials import ValidationQueue
from mimic.ports.services import SignalQueue

log = logging.getLogger(__name__)

EXECUTE_SIGNAL_TASK = "mimic.execute_signal"
VALIDATE_CONNECTION_TASK = "mimic.validate_connection"
# Kicks happen on the request path (the webhook answers TradingView within its 3 s): a hung
# Redis costs a request at most this long.
KICK_TIMEOUT_SECONDS = 0.5


class _TaskKicker:
    """Kicks a worker task by name, so adapters never import the entrypoint. Best effort:
    what it enqueues is stored first, and the sweeper re-drives whatever a lost kick left."""

    def __init__(self, broker: AsyncBroker, task_name: str, what: str) -> None:
        self._kicker: AsyncKicker[..., None] = AsyncKicker(
            task_name=task_name, broker=broker, labels={}
        )
        self._what = what

    async def kick(self, item_id: str, *more: object) -> None:
        try:
            async with asyncio.timeout(KICK_TIMEOUT_SECONDS):
                await self._kicker.kiq(item_id, *more)
        except Exception:  # TimeoutError included
            log.exception("could not enqueue %s %s; the sweeper will re-drive it", self._what,
                          item_id)  # fmt: skip


class TaskiqSignalQueue(SignalQueue):
    def __init__(self, broker: AsyncBroker) -> None:
        self._tasks = _TaskKicker(broker, EXECUTE_SIGNAL_TASK, "signal")

    async def enqueue_execution(self, signal_id: str, part: int = 0) -> None:
        await self._tasks.kick(signal_id, part)


class TaskiqValidationQueue(ValidationQueue):
    def __init__(self, broker: AsyncBroker) -> None:
        self._tasks = _TaskKicker(broker, VALIDATE_CONNECTION_TASK, "the check of connection")

    async def enqueue_validation(self, account_id: str) -> None:
        await self._tasks.kick(account_id)
