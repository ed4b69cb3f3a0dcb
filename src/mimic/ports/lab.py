"""What the strategy lab's web console needs: stored runs, a queue to the worker, the engine."""

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from mimic.domain.lab.runs import LabOutputs, LabRun


class LabRunRepository(Protocol):
    async def add(self, run: LabRun) -> None: ...

    async def get(self, run_id: str) -> LabRun | None: ...

    async def recent(self, limit: int) -> Sequence[LabRun]: ...

    async def start(self, run_id: str, now: datetime) -> LabRun | None:
        """Marks the run running (started at `now`) and returns it with its inputs, if it
        `can_run`; None otherwise (another worker has it, or it is over)."""
        ...

    async def finish(self, run_id: str, outputs: LabOutputs, at: datetime) -> None: ...

    async def fail(self, run_id: str, error: str, at: datetime) -> None: ...

    async def outputs(self, run_id: str) -> LabOutputs | None: ...


class LabQueue(Protocol):
    async def enqueue_run(self, run_id: str) -> None: ...


class LabEngine(Protocol):
    """Reads an upload and replays it (CPU bound: called off the event loop)."""

    def check(self, inputs: bytes) -> None:
        """Raises `InvalidField` naming what is wrong with the upload."""
        ...

    def run(self, inputs: bytes) -> LabOutputs: ...
