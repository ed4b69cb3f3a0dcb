"""The moments a replay stops at: equity samples, UTC day starts and alerts, in time order.

At one instant a sample (the equity at the close of the candle before) comes first, then
the day start (the guardrails' 00:00 observation), then the alerts in the order given.
"""

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mimic.domain.lab.candles import CandleSeries
from mimic.domain.signal import SignalParams

DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class Alert:
    """A master's alert: when it fired and what it said."""

    time_ms: int
    params: SignalParams


class EventKind(enum.IntEnum):
    SAMPLE = 0
    DAY_START = 1
    ALERT = 2


@dataclass(frozen=True, slots=True)
class Event:
    time_ms: int
    kind: EventKind
    alert: Alert | None = None


def timeline(
    series: Mapping[str, CandleSeries], alerts: Sequence[Alert], samples: int
) -> tuple[list[Event], list[int]]:
    """(every event in order, the sample times): about `samples` equity samples spread over
    the longest series, the last at the close of its last candle."""
    longest = max(sorted(series), key=lambda s: len(series[s]))
    main = series[longest]
    step = max(1, -(-len(main) // max(samples, 1)))
    indices = list(range(step - 1, len(main), step))
    if not indices or indices[-1] != len(main) - 1:
        indices.append(len(main) - 1)
    sample_times = [main.times[i] + main.interval for i in indices]
    keyed: list[tuple[int, int, int, Event]] = [
        (t, EventKind.SAMPLE, n, Event(t, EventKind.SAMPLE)) for n, t in enumerate(sample_times)
    ]
    first = min(s.times[0] for s in series.values())
    last = max(s.end_time() for s in series.values())
    midnight = -(-first // DAY_MS) * DAY_MS
    while midnight < last:
        keyed.append((midnight, EventKind.DAY_START, 0, Event(midnight, EventKind.DAY_START)))
        midnight += DAY_MS
    for n, alert in enumerate(alerts):
        keyed.append(
            (alert.time_ms, EventKind.ALERT, n, Event(alert.time_ms, EventKind.ALERT, alert))
        )
    keyed.sort(key=lambda k: (k[0], k[1], k[2]))
    return [k[3] for k in keyed], sample_times
