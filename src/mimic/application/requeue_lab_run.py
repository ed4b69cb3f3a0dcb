"""Sends a lab run to a worker again: its message was lost, or its worker died running it."""

from mimic.domain.errors import Conflict, NotFound
from mimic.domain.lab.runs import LabRun
from mimic.ports.lab import LabQueue, LabRunRepository
from mimic.ports.services import Clock


class RequeueLabRun:
    def __init__(self, runs: LabRunRepository, queue: LabQueue, clock: Clock) -> None:
        self._runs = runs
        self._queue = queue
        self._clock = clock

    async def __call__(self, run_id: str) -> LabRun:
        run = await self._runs.get(run_id)
        if run is None:
            raise NotFound("lab run not found")
        if not run.can_run(self._clock.now()):
            raise Conflict(f"lab run {run_id} is {run.status}: nothing to run again")
        await self._queue.enqueue_run(run_id)
        return run
