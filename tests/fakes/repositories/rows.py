"""How the fakes keep a row: a copy, as the database keeps it."""

import copy
import dataclasses
from datetime import UTC, datetime
from typing import Any, TypeVar

Row = TypeVar("Row")


def as_stored(row: Row) -> Row:
    """A deep copy with every timezone-aware datetime field in UTC, as SQL hands it back."""
    stored: Any = copy.deepcopy(row)
    for field in dataclasses.fields(stored):
        value = getattr(stored, field.name)
        if isinstance(value, datetime) and value.tzinfo is not None:
            setattr(stored, field.name, value.astimezone(UTC))
    return stored  # type: ignore[no-any-return]
