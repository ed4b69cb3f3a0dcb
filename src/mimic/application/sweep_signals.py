"""The sweeper: the database, not the queue, decides what still has to run."""

import logging
from dataclasses import dataclass
from datetime import timedelta

from mimic.domain.signal import Signal, SignalStatus
from mimic.ports.repositories import OrderIntentRepository, SignalRepository
from mimic.ports.services import Clock, SignalQueue

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SweepResult:
    requeued: list[str]


async def enqueue_unfinished_parts(queue: SignalQueue, signal: Signal) -> None:
    for part in signal.unfinished_parts():  # a finished part is not run again
        await queue.enqueue_execution(signal.id, part.index)


class SweepUnfinishedSignals:
    """Re-drives signals a lost queue message, an emptied Redis or a dead worker left
    unfinished.

    Only the signal next in line on each source and symbol: the ones behind it are parked
    and resumed by whoever finishes it. A signal nobody started (acknowledged, but its queue
    message lost) runs after the next sweep. One that started is re-driven once it is older
    than `grace` (a lease) and no worker holds any of its orders: a second run beside a
    live one would read every follower's account again.
    """

    def __init__(
        self,
        signals: SignalRepository,
        intents: OrderIntentRepository,
        queue: SignalQueue,
        clock: Clock,
        grace: timedelta,
    ) -> None:
        self._signals = signals
        self._intents = intents
        self._queue = queue
        self._clock = clock
        self._grace = grace

    async def __call__(self) -> SweepResult:
        now = self._clock.now()
        next_in_line = await self._signals.list_next_in_line()
        started = [s for s in next_in_line if s.status is not SignalStatus.RECEIVED]
        in_hand = await self._intents.signals_in_hand([s.id for s in started], now=now)
        due = [
            signal
            for signal in next_in_line
            if signal.status is SignalStatus.RECEIVED
            or (signal.received_at < now - self._grace and signal.id not in in_hand)
        ]
        for signal in due:
            await enqueue_unfinished_parts(self._queue, signal)
        if due:
            log.info("sweeper re-queued %d unfinished signal(s)", len(due))
        return SweepResult([signal.id for signal in due])
