"""The web console's "replay these files": checked at once, stored, run by a worker."""

import asyncio
import uuid

from mimic.domain.lab.runs import LabRun
from mimic.ports.lab import LabEngine, LabQueue, LabRunRepository
from mimic.ports.repositories import TransactionManager
from mimic.ports.services import Clock


class StartLabRun:
    def __init__(
        self,
        runs: LabRunRepository,
        engine: LabEngine,
        queue: LabQueue,
        tx: TransactionManager,
        clock: Clock,
    ) -> None:
        self._runs = runs
        self._engine = engine
        self._queue = queue
        self._tx = tx
        self._clock = clock

    async def __call__(self, inputs: bytes, admin_id: str) -> LabRun:
        """Bad files raise `InvalidField` before anything is stored."""
        await asyncio.to_thread(self._engine.check, inputs)
        run = LabRun(
            id=uuid.uuid4().hex, created_by=admin_id, created_at=self._clock.now(), inputs=inputs
        )
        await self._runs.add(run)
        await self._tx.commit()
        await self._queue.enqueue_run(run.id)
        return run
