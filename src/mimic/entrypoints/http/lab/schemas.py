"""Wire shape of a lab run."""

from datetime import datetime
from typing import Any

import msgspec


class LabRunOut(msgspec.Struct):
    id: str
    status: str
    created_at: datetime
    finished_at: datetime | None
    error: str | None
    # report.json once done; trades.csv, equity.png and equity.html at .../files/{name}
    report: dict[str, Any] | None = None
