"""The WHERE clauses of an order history's filters, shared by the tables that hold orders."""

from typing import Any

from sqlalchemy import ColumnElement, false, select

from mimic.adapters.sqlalchemy.tables import signals
from mimic.domain.orders import OrderFilters


def history_filters(columns: Any, filters: OrderFilters) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    if filters.statuses:
        clauses.append(columns.status.in_(sorted(s.value for s in filters.statuses)))
    if filters.symbol is not None:
        clauses.append(columns.symbol == filters.symbol)
    if filters.source_id is not None:
        # Orders of no signal (panic closes, the monitor's) match no source.
        if "signal_id" in columns:
            of_source = select(signals.c.id).where(signals.c.source_id == filters.source_id)
            clauses.append(columns.signal_id.in_(of_source))
        else:
            clauses.append(false())
    return clauses
