"""Random ids in bulk: a fan-out makes thousands at once, and each read of the operating
system's random source is a system call."""

import os

_ID_BYTES = 16  # as uuid4().hex: 32 hex characters


def new_ids(count: int) -> list[str]:
    """`count` random 32-character hex ids from one read of the OS's secure random source."""
    raw = os.urandom(_ID_BYTES * count).hex()
    width = 2 * _ID_BYTES
    return [raw[start : start + width] for start in range(0, len(raw), width)]
