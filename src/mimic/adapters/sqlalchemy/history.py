"""The WHERE clauses of an order history's filters, shared by the tables that hold orders."""

from typing import Any

from sqlalchemy import ColumnElement

from mimic.domain.orders import OrderFilters


def history_filters(columns: Any, filters: OrderFilters) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    if filters.statuses:
        clauses.append(columns.status.in_(sorted(s.value for s in filters.statuses)))
    if filters.symbol is not None:
        clauses.append(columns.symbol == filters.symbol)
    return clauses
