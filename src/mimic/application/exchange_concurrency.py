"""How many requests go to one exchange at once: one helper for every loop that sends.

The fan-out, the position monitor, the portfolio sync (and its close-all) and panic all
work through many accounts; each exchange gets its own bound, so a slow venue neither
holds the others back nor gets more than its share of connections.
"""

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ExchangeConcurrency:
    per_exchange: int = 32
    # Exchanges that take more at once, e.g. the paper venue, which batches what it gets.
    overrides: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.per_exchange < 1 or any(limit < 1 for limit in self.overrides.values()):
            raise ValueError("concurrency per exchange must be at least 1")

    def limit(self, exchange: str) -> int:
        return self.overrides.get(exchange, self.per_exchange)

    async def run(
        self,
        items: Sequence[T],
        exchange_of: Callable[[T], str],
        work: Callable[[T], Awaitable[None]],
    ) -> None:
        """Awaits `work(item)` for every item, at most the exchange's limit at a time each.

        A fixed set of workers per exchange takes the items in order: thousands of tasks
        queued on one asyncio.Semaphore would cost time quadratic in their number (its
        release scans the waiters), and a task each.
        """
        groups: dict[str, list[T]] = defaultdict(list)
        for item in items:
            groups[exchange_of(item)].append(item)
        await asyncio.gather(
            *(_run_bounded(group, work, self.limit(exchange)) for exchange, group in groups.items())
        )


async def _run_bounded(
    items: Sequence[T], work: Callable[[T], Awaitable[None]], limit: int
) -> None:
    pending = iter(items)

    async def worker() -> None:
        for item in pending:
            await work(item)

    await asyncio.gather(*(worker() for _ in range(min(limit, len(items)))))
