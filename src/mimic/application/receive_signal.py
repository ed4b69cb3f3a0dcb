import asyncio
import hashlib
import hmac
import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from mimic.application import work_context
from mimic.domain.accounts import SignalSource
from mimic.domain.alerts import canonical_alert, read_alert
from mimic.domain.errors import AuthenticationFailed, DomainError, InvalidField
from mimic.domain.fanout import all_parts
from mimic.domain.signal import Signal, dedupe_key
from mimic.ports.exchange import SymbolCatalog
from mimic.ports.intake import SignalIntake
from mimic.ports.metrics import Metrics
from mimic.ports.services import Clock, SignalQueue

log = logging.getLogger(__name__)


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
        intake: SignalIntake,
        catalog: SymbolCatalog,
        queue: SignalQueue,
        clock: Clock,
        dedupe_window: timedelta,
        metrics: Metrics,
        *,
        fanout_parts: int = 1,
    ) -> None:
        self._intake = intake
        self._catalog = catalog
        self._queue = queue
        self._clock = clock
        self._dedupe_window = dedupe_window
        self._metrics = metrics
        self._fanout_parts = all_parts(fanout_parts)

    async def __call__(self, command: ReceiveSignalCommand) -> ReceivedSignal:
        sender = _Sender()
        try:
            received = await self._receive(command, sender)
        except DomainError:
            self._metrics.signal_received(sender.name, "refused")
            raise
        outcome = "duplicate" if received.duplicate else "accepted"
        self._metrics.signal_received(sender.name, outcome)
        return received

    async def _receive(self, command: ReceiveSignalCommand, sender: "_Sender") -> ReceivedSignal:
        payload = command.payload
        passphrase = payload.get("passphrase")
        if not isinstance(passphrase, str) or not passphrase:
            raise AuthenticationFailed("passphrase is missing or wrong")
        expected = passphrase_hash(passphrase)
        # Twice at most: a source answered from memory may have changed since (`store` says
        # so, storing nothing); the second look reads it as it stands.
        for _ in range(2):
            source = await self._source(expected)
            sender.name = source.name
            stored = await self._store(payload, source)
            if stored is not None:
                break
        else:
            raise AuthenticationFailed("passphrase is missing or wrong")
        signal, duplicate = stored
        work_context.working_on_signal(signal.id, signal.received_at)
        if duplicate:
            log.info("signal %s: duplicate from source %s", signal.id, source.id)
        else:
            log.info("signal %s: accepted from source %s", signal.id, source.id)
            await self._enqueue(signal.id)
        return ReceivedSignal(signal_id=signal.id, duplicate=duplicate)

    async def _enqueue(self, signal_id: str) -> None:
        if len(self._fanout_parts) == 1:  # no task to gather it in: the common case
            await self._queue.enqueue_execution(signal_id, self._fanout_parts[0].index)
            return
        # At once: the queue bounds each call, not their sum.
        await asyncio.gather(
            *(self._queue.enqueue_execution(signal_id, p.index) for p in self._fanout_parts)
        )

    async def _source(self, expected_hash: str) -> SignalSource:
        source = await self._intake.source_by_passphrase_hash(expected_hash)
        if source is None or not source.active:
            raise AuthenticationFailed("passphrase is missing or wrong")
        # The lookup is by hash; compare again in constant time so no timing leaks a match.
        if not hmac.compare_digest(source.passphrase_hash, expected_hash):
            raise AuthenticationFailed("passphrase is missing or wrong")
        return source

    async def _store(
        self, payload: dict[str, Any], source: SignalSource
    ) -> tuple[Signal, bool] | None:
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
        return await self._intake.store(signal, source, expiring_after=now - self._dedupe_window)


@dataclass(slots=True)
class _Sender:
    """The source a signal came from, once its passphrase proved it (for the metrics)."""

    name: str = "unknown"
