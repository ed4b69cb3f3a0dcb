"""The worker's side of the web console's lab: replay a stored run, store what it wrote."""

import asyncio
import logging

from mimic.domain.errors import InvalidField
from mimic.domain.lab.runs import LabRunStatus
from mimic.ports.lab import LabEngine, LabRunRepository
from mimic.ports.repositories import TransactionManager
from mimic.ports.services import Clock

log = logging.getLogger(__name__)


class RunLab:
    def __init__(
        self,
        runs: LabRunRepository,
        engine: LabEngine,
        tx: TransactionManager,
        clock: Clock,
    ) -> None:
        self._runs = runs
        self._engine = engine
        self._tx = tx
        self._clock = clock

    async def __call__(self, run_id: str) -> LabRunStatus | None:
        """The run's new status; None when it cannot run (running elsewhere, over, unknown)."""
        run = await self._runs.start(run_id, self._clock.now())
        await self._tx.commit()
        if run is None:
            return None
        try:
            # A replay is CPU work: off the event loop, so the worker's other tasks go on.
            outputs = await asyncio.to_thread(self._engine.run, run.inputs)
        except InvalidField as exc:
            await self._runs.fail(run_id, str(exc), self._clock.now())
            await self._tx.commit()
            return LabRunStatus.FAILED
        except Exception:
            log.exception("lab run %s failed", run_id)
            await self._runs.fail(
                run_id, "the replay failed: see the worker's log", self._clock.now()
            )
            await self._tx.commit()
            return LabRunStatus.FAILED
        await self._runs.finish(run_id, outputs, self._clock.now())
        await self._tx.commit()
        return LabRunStatus.DONE
