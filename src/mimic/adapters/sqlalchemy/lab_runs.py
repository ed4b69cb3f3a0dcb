"""The strategy lab's web console runs on SQLAlchemy Core."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mimic.adapters.sqlalchemy.tables import lab_runs
from mimic.domain.lab.runs import STALE_RUN, LabOutputs, LabRun, LabRunStatus
from mimic.ports.lab import LabRunRepository

_c = lab_runs.c
_RUN_COLUMNS = (
    _c.id,
    _c.created_by,
    _c.created_at,
    _c.status,
    _c.started_at,
    _c.finished_at,
    _c.error,
)


def _run(row: Any, inputs: bytes = b"") -> LabRun:
    return LabRun(
        id=row.id,
        created_by=row.created_by,
        created_at=row.created_at,
        inputs=inputs,
        status=LabRunStatus(row.status),
        started_at=row.started_at,
        finished_at=row.finished_at,
        error=row.error,
    )


class SqlLabRunRepository(LabRunRepository):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, run: LabRun) -> None:
        await self._session.execute(
            insert(lab_runs).values(
                id=run.id,
                created_by=run.created_by,
                created_at=run.created_at,
                status=run.status.value,
                inputs=run.inputs,
            )
        )

    async def get(self, run_id: str) -> LabRun | None:
        """Without its inputs (they can be megabytes); `start` reads those."""
        row = (await self._session.execute(select(*_RUN_COLUMNS).where(_c.id == run_id))).first()
        return None if row is None else _run(row)

    async def recent(self, limit: int) -> Sequence[LabRun]:
        rows = await self._session.execute(
            select(*_RUN_COLUMNS).order_by(_c.created_at.desc(), _c.id).limit(limit)
        )
        return [_run(row) for row in rows]

    async def start(self, run_id: str, now: datetime) -> LabRun | None:
        # One conditional update: of two workers, one claims the run.
        claimed = await self._session.execute(
            update(lab_runs)
            .where(
                _c.id == run_id,
                or_(
                    _c.status == LabRunStatus.PENDING.value,
                    and_(
                        _c.status == LabRunStatus.RUNNING.value,
                        _c.started_at <= now - STALE_RUN,
                    ),
                ),
            )
            .values(status=LabRunStatus.RUNNING.value, started_at=now)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            return None
        row = (
            await self._session.execute(select(*_RUN_COLUMNS, _c.inputs).where(_c.id == run_id))
        ).one()
        return _run(row, bytes(row.inputs))

    async def finish(self, run_id: str, outputs: LabOutputs, at: datetime) -> None:
        await self._session.execute(
            update(lab_runs)
            .where(_c.id == run_id)
            .values(
                status=LabRunStatus.DONE.value,
                finished_at=at,
                report_json=outputs.report_json,
                trades_csv=outputs.trades_csv,
                equity_png=outputs.equity_png,
                equity_html=outputs.equity_html,
            )
        )

    async def fail(self, run_id: str, error: str, at: datetime) -> None:
        await self._session.execute(
            update(lab_runs)
            .where(_c.id == run_id)
            .values(status=LabRunStatus.FAILED.value, finished_at=at, error=error)
        )

    async def outputs(self, run_id: str) -> LabOutputs | None:
        row = (
            await self._session.execute(
                select(_c.report_json, _c.trades_csv, _c.equity_png, _c.equity_html).where(
                    _c.id == run_id, _c.status == LabRunStatus.DONE.value
                )
            )
        ).first()
        if row is None:
            return None
        return LabOutputs(
            report_json=row.report_json,
            trades_csv=row.trades_csv,
            equity_png=bytes(row.equity_png),
            equity_html=row.equity_html,
        )
