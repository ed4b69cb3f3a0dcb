"""The strategy lab's replays."""

from sqlalchemy import Column, Index, LargeBinary, String, Table, Text

from mimic.adapters.sqlalchemy.tables.types import ID, UtcDateTime, metadata

__all__ = ["lab_runs"]

# Replays started from the web console (the strategy lab): the upload and what it wrote.
lab_runs = Table(
    "lab_runs",
    metadata,
    Column("id", ID, primary_key=True),
    Column("created_by", ID, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("status", String(16), nullable=False),
    Column("inputs", LargeBinary, nullable=False),
    Column("started_at", UtcDateTime),
    Column("finished_at", UtcDateTime),
    Column("error", Text),
    Column("report_json", Text),
    Column("trades_csv", Text),
    Column("equity_png", LargeBinary),
    Column("equity_html", Text),
    Index("ix_lab_runs_created_at", "created_at"),
)
