"""The lab's runs in SQLite and Postgres: claimed once, taken over only when abandoned."""

import asyncio
from datetime import UTC, datetime

from mimic.adapters.sqlalchemy.engine import create_engine, create_session_factory
from mimic.adapters.sqlalchemy.lab_runs import SqlLabRunRepository
from mimic.adapters.sqlalchemy.migrations import upgrade
from mimic.domain.lab.runs import STALE_RUN, LabOutputs, LabRun, LabRunStatus

NOW = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)
OUTPUTS = LabOutputs("{}\n", "time\n", b"\x89PNG\x00\xff", "<html>")


async def test_a_run_is_claimed_once_and_keeps_its_files(database_url: str) -> None:
    await asyncio.to_thread(upgrade, database_url)
    engine = create_engine(database_url)
    sessions = create_session_factory(engine)
    try:
        async with sessions() as session:
            runs = SqlLabRunRepository(session)
            await runs.add(LabRun("r1", "admin", NOW, b'{"big": "upload"}'))
            await session.commit()
            started = await runs.start("r1", NOW)
            assert started is not None
            assert (started.inputs, started.status) == (b'{"big": "upload"}', LabRunStatus.RUNNING)
            assert await runs.start("r1", NOW + STALE_RUN / 2) is None  # another worker's
            taken_over = await runs.start("r1", NOW + STALE_RUN)  # that worker died
            assert taken_over is not None
            assert taken_over.started_at == NOW + STALE_RUN
            assert await runs.outputs("r1") is None
            await runs.finish("r1", OUTPUTS, NOW + STALE_RUN)
            await session.commit()
            assert await runs.start("r1", NOW + 3 * STALE_RUN) is None
            assert await runs.outputs("r1") == OUTPUTS
            listed = await runs.recent(10)
            assert [(r.id, r.status, r.inputs) for r in listed] == [("r1", LabRunStatus.DONE, b"")]
    finally:
        await engine.dispose()
