"""Wire shapes of master accounts (a source copying a master's own fills)."""

from typing import Annotated

import msgspec

from mimic.application.master_accounts import (
    MAX_SYMBOLS,
)


class MasterAccountIn(msgspec.Struct, forbid_unknown_fields=True):
    """Read-only keys are expected: Mimic only reads the master's trades and balance."""

    exchange: Annotated[str, msgspec.Meta(min_length=1, max_length=32)]
    symbols: Annotated[
        list[Annotated[str, msgspec.Meta(min_length=1, max_length=32)]],
        msgspec.Meta(min_length=1, max_length=MAX_SYMBOLS),
    ]
    api_key: str | None = None
    api_secret: str | None = None
    password: str | None = None


class MasterAccountOut(msgspec.Struct):
    id: str
    source_id: str
    exchange: str
    symbols: list[str]
    api_key_masked: str | None
    # Set when the key can trade or withdraw (or its permissions could not be read).
    warning: str | None


class MasterPollOut(msgspec.Struct):
    signals: int
