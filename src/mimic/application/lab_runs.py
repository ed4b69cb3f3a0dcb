"""The web console's view of the lab's runs: their status, and what a finished one wrote."""

from collections.abc import Sequence

from mimic.domain.errors import NotFound
from mimic.domain.lab.runs import LabOutputs, LabRun
from mimic.ports.lab import LabRunRepository


class ViewLabRuns:
    def __init__(self, runs: LabRunRepository) -> None:
        self._runs = runs

    async def recent(self, limit: int) -> Sequence[LabRun]:
        return await self._runs.recent(limit)

    async def get(self, run_id: str) -> LabRun:
        run = await self._runs.get(run_id)
        if run is None:
            raise NotFound("lab run not found")
        return run

    async def outputs(self, run_id: str) -> LabOutputs:
        outputs = await self._runs.outputs(run_id)
        if outputs is None:
            run = await self.get(run_id)
            raise NotFound(f"lab run {run_id} has no files: it is {run.status}")
        return outputs
