"""A replay started from the web console: stored with its inputs, run by a worker."""

import enum
from dataclasses import dataclass
from datetime import datetime


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
    finished_at: datetime | None = None
    error: str | None = None
