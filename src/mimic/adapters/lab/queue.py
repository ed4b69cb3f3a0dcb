"""The lab's runs go to a worker as taskiq messages (by task name: no entrypoint import)."""

from taskiq import AsyncBroker
from taskiq.kicker import AsyncKicker

from mimic.ports.lab import LabQueue

RUN_LAB_TASK = "mimic.run_lab"


class TaskiqLabQueue(LabQueue):
    def __init__(self, broker: AsyncBroker) -> None:
        self._kicker: AsyncKicker[..., None] = AsyncKicker(
            task_name=RUN_LAB_TASK, broker=broker, labels={}
        )

    async def enqueue_run(self, run_id: str) -> None:
        await self._kicker.kiq(run_id)
