"""Wire shapes of signal sources."""

from typing import Annotated, Literal

import msgspec

from mimic.application.signal_sources import (
    MAX_NAME_LENGTH,
)
from mimic.entrypoints.http.contract import NOT_BLANK

Direction = Literal["both", "long_only", "short_only"]


class SourceOut(msgspec.Struct):
    id: str
    name: str
    active: bool
    direction: Direction


SourceName = Annotated[str, msgspec.Meta(pattern=NOT_BLANK, max_length=MAX_NAME_LENGTH)]


class SourceCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: SourceName
    direction: Direction = "both"


class SourceChange(msgspec.Struct, forbid_unknown_fields=True):
    name: SourceName | None = None
    active: bool | None = None
    direction: Direction | None = None
