"""The web console's lab runs: started only from good files, run once, failures kept."""

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

import pytest

from mimic.application.lab_runs import ViewLabRuns
from mimic.application.replay import RunLab
from mimic.application.requeue_lab_run import RequeueLabRun
from mimic.application.start_lab_run import StartLabRun
from mimic.domain.errors import Conflict, InvalidField, NotFound
from mimic.domain.lab.runs import STALE_RUN, LabOutputs, LabRun, LabRunStatus
from mimic.ports.lab import LabEngine, LabQueue, LabRunRepository
from tests.fakes.repositories.transactions import FakeTransactionManager
from tests.fakes.services import FixedClock

OUTPUTS = LabOutputs("{}\n", "time\n", b"\x89PNG", "<html>")


class MemoryLabRuns(LabRunRepository):
    def __init__(self) -> None:
        self.runs: dict[str, LabRun] = {}
        self.files: dict[str, LabOutputs] = {}

    async def add(self, run: LabRun) -> None:
        self.runs[run.id] = run

    async def get(self, run_id: str) -> LabRun | None:
        return self.runs.get(run_id)

    async def recent(self, limit: int) -> Sequence[LabRun]:
        return sorted(self.runs.values(), key=lambda r: r.created_at, reverse=True)[:limit]

    async def start(self, run_id: str, now: datetime) -> LabRun | None:
        run = self.runs.get(run_id)
        if run is None or not run.can_run(now):
            return None
        self.runs[run_id] = replace(run, status=LabRunStatus.RUNNING, started_at=now)
        return self.runs[run_id]

    async def finish(self, run_id: str, outputs: LabOutputs, at: datetime) -> None:
        self.runs[run_id] = replace(self.runs[run_id], status=LabRunStatus.DONE, finished_at=at)
        self.files[run_id] = outputs

    async def fail(self, run_id: str, error: str, at: datetime) -> None:
        self.runs[run_id] = replace(
            self.runs[run_id], status=LabRunStatus.FAILED, finished_at=at, error=error
        )

    async def outputs(self, run_id: str) -> LabOutputs | None:
        return self.files.get(run_id)


class ScriptedEngine(LabEngine):
    """Accepts b"good"; fails a run of anything else as the real engine fails bad files."""

    def check(self, inputs: bytes) -> None:
        if inputs != b"good":
            raise InvalidField("alerts", "line 1: not JSON")

    def run(self, inputs: bytes) -> LabOutputs:
        self.check(inputs)
        return OUTPUTS


class RecordingQueue(LabQueue):
    def __init__(self) -> None:
        self.queued: list[str] = []

    async def enqueue_run(self, run_id: str) -> None:
        self.queued.append(run_id)


async def test_a_good_upload_is_stored_queued_and_run_once() -> None:
    runs, queue, clock = MemoryLabRuns(), RecordingQueue(), FixedClock()
    tx = FakeTransactionManager()
    run = await StartLabRun(runs, ScriptedEngine(), queue, tx, clock)(b"good", "admin-1")
    assert (queue.queued, run.status, run.created_by) == ([run.id], LabRunStatus.PENDING, "admin-1")
    run_lab = RunLab(runs, ScriptedEngine(), tx, clock)
    assert await run_lab(run.id) is LabRunStatus.DONE
    assert await run_lab(run.id) is None  # a redelivered message replays nothing
    view = ViewLabRuns(runs)
    assert (await view.get(run.id)).status is LabRunStatus.DONE
    assert await view.outputs(run.id) == OUTPUTS


async def test_a_bad_upload_stores_nothing() -> None:
    runs, queue = MemoryLabRuns(), RecordingQueue()
    start = StartLabRun(runs, ScriptedEngine(), queue, FakeTransactionManager(), FixedClock())
    with pytest.raises(InvalidField, match="line 1"):
        await start(b"bad", "admin-1")
    assert (runs.runs, queue.queued) == ({}, [])


async def test_a_run_that_fails_keeps_its_reason_and_has_no_files() -> None:
    runs, clock = MemoryLabRuns(), FixedClock()
    await runs.add(LabRun("r1", "admin-1", clock.now(), b"bad"))
    assert await RunLab(runs, ScriptedEngine(), FakeTransactionManager(), clock)("r1") is (
        LabRunStatus.FAILED
    )
    assert runs.runs["r1"].error == "alerts: line 1: not JSON"
    with pytest.raises(NotFound, match="it is failed"):
        await ViewLabRuns(runs).outputs("r1")


async def test_a_lost_or_abandoned_run_can_be_sent_again_and_no_other() -> None:
    runs, queue, clock = MemoryLabRuns(), RecordingQueue(), FixedClock()
    requeue = RequeueLabRun(runs, queue, clock)
    await runs.add(LabRun("lost", "admin-1", clock.now(), b"good"))
    await requeue("lost")  # its first message never reached a worker
    assert queue.queued == ["lost"]
    run_lab = RunLab(runs, ScriptedEngine(), FakeTransactionManager(), clock)
    await runs.start("lost", clock.now())  # a worker took it, then died
    with pytest.raises(Conflict, match="running"):
        await requeue("lost")
    assert await run_lab("lost") is None  # still someone else's
    clock.advance(STALE_RUN)
    await requeue("lost")
    assert await run_lab("lost") is LabRunStatus.DONE
    with pytest.raises(Conflict, match="done"):
        await requeue("lost")
    with pytest.raises(NotFound):
        await requeue("nope")
