"""Live events: what an open page is told the moment something it shows has changed.

Interactors publish after their own commit: a page that re-reads on an event sees the new
state. Best effort: a page that misses an event re-reads everything when it reconnects, and
the database stays the truth.
"""

from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Protocol

# Admins' pages follow platform events (signal progress, errors) on this audience.
ADMINS = "admin"


def user_audience(user_id: str) -> str:
    """The audience of one user's own events: only that user's pages receive them."""
    return f"user:{user_id}"


@dataclass(frozen=True, slots=True)
class LiveEvent:
    """`kind` is a stable key such as "order.filled", "position.closed", "signal.progress",
    "guardrail.tripped", "message.received"; `data` holds ids and short texts only
    (never a secret): the page re-reads what it shows."""

    kind: str
    data: Mapping[str, str] = field(default_factory=dict)


class LiveEvents(Protocol):
    async def publish(self, audience: str, event: LiveEvent) -> None:
        """Send `event` to every page open for `audience` (`user_audience(id)` or `ADMINS`).

        Never raises: a failure to publish is logged and the caller's work stands.
        """
        ...

    async def publish_many(self, items: Sequence[tuple[str, LiveEvent]]) -> None:
        """Several (audience, event) pairs at once; the same promise as `publish`."""
        ...


class LivePages(Protocol):
    """The pages open in this process, as the live route holds them."""

    def page(
        self, audiences: Sequence[str], send: Callable[[bytes], Awaitable[None]]
    ) -> AbstractAsyncContextManager[None]:
        """While inside, each event published for one of `audiences` is handed to `send`
        (its wire bytes), in order; a page too many events behind loses the oldest."""
        ...
