from collections.abc import Sequence
from datetime import datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """Current time, timezone-aware UTC."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait (a test clock moves its time on instead)."""
        ...


class SignalQueue(Protocol):
    async def enqueue_execution(self, signal_id: str, part: int = 0) -> None:
        """Runs part `part` of the signal's fan-out (domain.fanout) on a worker.

        Best effort and bounded in time (it runs while the webhook's caller waits): never
        raises; the sweeper re-drives anything a lost message leaves behind.
        """
        ...


class Notifier(Protocol):
    async def notify(self, user_id: str, event: str, text: str) -> None:
        """Tell a user what happened (event is a stable key such as "exchange.approved").

        Best effort and non-blocking for the caller: it only queues the notification (an
        outbox row committed on its own); the worker delivers it on the channels the user
        chose (Telegram, email). Call it after your own commit.
        """
        ...

    async def notify_many(self, notices: Sequence[tuple[str, str, str]]) -> None:
        """Several (user id, event, text) at once: one outbox transaction for them all,
        where the notifier has one. The same promise as `notify`."""
        ...


class PasswordHasher(Protocol):
    """Async because a memory-hard hash takes tens of milliseconds: keep it off the loop."""

    async def hash(self, password: str) -> str: ...

    async def verify(self, password_hash: str, password: str) -> bool: ...

    def needs_rehash(self, password_hash: str) -> bool: ...


class Mailer(Protocol):
    async def send(self, to: str, subject: str, body: str) -> None:
        """Deliver a plain-text mail; raises `DeliveryFailed` when the server refuses it."""
        ...
