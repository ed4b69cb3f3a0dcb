"""A replay started from the web console: stored with its inputs, run by a worker."""

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

# A replay takes seconds; one still "running" after this lost its worker and may run again.
STALE_RUN = timedelta(minutes=30)


class LabRunStatus(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class LabOutputs:
    """What `mimic replay` writes to its folder, one field per file."""

    report_json: str
    trades_csv: str
    equity_png: bytes
    equity_html: str


@dataclass(frozen=True, slots=True)
class LabRun:
    id: str
    created_by: str
    created_at: datetime
    inputs: bytes  # the upload, as sent (JSON)
    status: LabRunStatus = LabRunStatus.PENDING
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None

    def can_run(self, now: datetime) -> bool:
        """Pending, or running for so long that its worker must have died."""
        if self.status is LabRunStatus.PENDING:
            return True
        return (
            self.status is LabRunStatus.RUNNING
            and self.started_at is not None
            and now - self.started_at >= STALE_RUN
        )
