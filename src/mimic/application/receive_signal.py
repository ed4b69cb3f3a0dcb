import asyncio
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from mimic.domain.alerts import canonical_alert, read_alert
from mimic.domain.errors import AuthenticationFailed, InvalidField
from mimic.domain.fanout import all_parts
from mimic.domain.signal import Signal, dedupe_key
from mimic.ports.exchange import SymbolCatalog
from mimic.ports.repositories import SignalRepository, SignalSourceRepository, TransactionManager
from mimic.ports.services import Clock, SignalQueue


def passphrase_hash(passphrase: str) -> str:
    return hashlib.sha256(passphrase.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ReceiveSignalCommand:
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ReceivedSignal:
    signal_id: str
    duplicate: bool


class ReceiveSignal:
    """Webhook intake: authenticate, validate, store once, enqueue. Nothing else."""

    def __init__(
        self,
        sources: SignalSourceRepository,
        signals: SignalRepository,
        catalog: SymbolCatalog,
        tx: TransactionManager,
        queue: SignalQueue,
        clock: Clock,
        dedupe_window: timedelta,
        *,
        fanout_parts: int = 1,
    ) -> None:
        self._sources = sources
        self._signals = signals
        self._catalog = catalog
        self._tx = tx
        self._queue = queue
        self._clock = clock
        self._dedupe_window = dedupe_window
        self._fanout_parts = all_parts(fanout_parts)

    async def __call__(self, command: ReceiveSignalCommand) -> ReceivedSignal:
        payload = command.payload
        passphrase = payload.get("passphrase")
        if not isinstance(passphrase, str) or not passphrase:
            raise AuthenticationFailed("passphrase is missing or wrong")
        expected = passphrase_hash(passphrase)
        source = await self._sources.get_by_passphrase_hash(expected)
        if source is None or not source.active:
            raise AuthenticationFailed("passphrase is missing or wrong")
        # The lookup is by hash; compare again in constant time so no timing leaks a match.
        if not hmac.compare_digest(source.passphrase_hash, expected):
            raise AuthenticationFailed("passphrase is missing or wrong")
        params = read_alert(payload, source.direction)
        if not await self._catalog.is_tradable(params.symbol):
            raise InvalidField("symbol", f"{params.symbol} is not traded on any connected exchange")
        now = self._clock.now()
        signal = Signal(
            id=uuid.uuid4().hex,
            source_id=source.id,
            params=params,
            dedupe_key=dedupe_key(params, canonical_alert(payload)),
            received_at=now,
            fanout_parts=len(self._fanout_parts),
        )
        stored, duplicate = await self._signals.add_unless_duplicate(
            signal, expiring_after=now - self._dedupe_window
        )
        await self._tx.commit()
        if not duplicate:  # at once: the queue bounds each call, not their sum
            await asyncio.gather(
                *(self._queue.enqueue_execution(stored.id, p.index) for p in self._fanout_parts)
            )
        return ReceivedSignal(signal_id=stored.id, duplicate=duplicate)
