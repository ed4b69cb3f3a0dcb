"""The webhook's way in: its source found by passphrase, its signal stored once."""

from datetime import datetime
from typing import Protocol

from mimic.domain.accounts import SignalSource
from mimic.domain.signal import Signal


class SignalIntake(Protocol):
    """What ReceiveSignal needs of storage, shaped for one short round trip per alert."""

    async def source_by_passphrase_hash(self, passphrase_hash: str) -> SignalSource | None:
        """The active source with that passphrase hash, or None (unknown or inactive).

        May answer from memory: `store` checks, in the statement that stores, that the
        source still stands as it was answered.
        """
        ...

    async def store(
        self, signal: Signal, source: SignalSource, *, expiring_after: datetime
    ) -> tuple[Signal, bool] | None:
        """Store `signal` unless its source already has one with the same dedupe key (see
        SignalRepository.add_unless_duplicate), committed before this returns; the stored
        signal and whether it was a duplicate.

        None, and nothing stored, when `source` no longer stands as given (its passphrase,
        active flag or direction changed, or it is gone): what it was answered from is
        forgotten, so the caller looks the source up again.
        """
        ...
