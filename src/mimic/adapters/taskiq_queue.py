import logging

from taskiq import AsyncBroker
from taskiq.kicker import AsyncKicker

from mimic.ports.credentials import ValidationQueue
from mimic.ports.services import SignalQueue

log = logging.getLogger(__name__)

EXECUTE_SIGNAL_TASK = "mimic.execute_signal"


class TaskiqSignalQueue(SignalQueue):
    """Kicks the worker's task by name, so adapters never import the entrypoint."""

    def __init__(self, broker: AsyncBroker) -> None:
        self._kicker: AsyncKicker[[str], None] = AsyncKicker(
            task_name=EXECUTE_SIGNAL_TASK, broker=broker, labels={}
        )

    async def enqueue_execution(self, signal_id: str) -> None:
        try:
            await self._kicker.kiq(signal_id)
        except Exception:  # the signal is stored: the sweeper re-drives it
            log.exception("could not enqueue signal %s; the sweeper will re-drive it", signal_id)


VALIDATE_CONNECTION_TASK = "mimic.validate_connection"


class TaskiqValidationQueue(ValidationQueue):
    def __init__(self, broker: AsyncBroker) -> None:
        self._kicker: AsyncKicker[[str], None] = AsyncKicker(
            task_name=VALIDATE_CONNECTION_TASK, broker=broker, labels={}
        )

    async def enqueue_validation(self, account_id: str) -> None:
        try:
            await self._kicker.kiq(account_id)
        except Exception:  # the connection stays unchecked: the sweeper re-drives it
            log.exception("could not enqueue the check of connection %s", account_id)
