"""In-memory adapters of the ports in mimic.ports.services: clock, notifier, queue, hasher."""

import asyncio
from datetime import UTC, datetime, timedelta

from mimic.adapters.notifier_base import NotifierBase
from mimic.domain.errors import DeliveryFailed
from mimic.ports.services import Clock, Mailer, PasswordHasher, SignalQueue

START = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


class FixedClock(Clock):
    """Time stands still until a test sets or advances it; always timezone-aware UTC."""

    def __init__(self, now: datetime = START) -> None:
        self._now = START
        self.reads = 0  # how often it was asked: periodic jobs show their rounds by it
        self.slept: list[float] = []
        self.set(now)

    def now(self) -> datetime:
        self.reads += 1
        return self._now

    def set(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware datetime")
        self._now = moment.astimezone(UTC)

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now

    async def sleep(self, seconds: float) -> None:
        """No real waiting: the time moves on, and the wait is kept in `slept`."""
        self.slept.append(seconds)
        self._now += timedelta(seconds=seconds)
        await asyncio.sleep(0)


class RecordingNotifier(NotifierBase):
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []

    async def notify(self, user_id: str, event: str, text: str) -> None:
        self.sent.append((user_id, event, text))

    def about(self, prefix: str) -> list[tuple[str, str, str]]:
        """What was sent on events starting with `prefix` ("position.", "guardrail.")."""
        return [sent for sent in self.sent if sent[1].startswith(prefix)]

    def events(self, prefix: str = "") -> list[str]:
        return [event for _, event, _ in self.about(prefix)]

    def users_told(self, event: str) -> list[str]:
        """Whom `event` (exactly this one) was sent to, in order."""
        return [user for user, kind, _ in self.sent if kind == event]


class RecordingSignalQueue(SignalQueue):
    def __init__(self) -> None:
        self.enqueued: list[str] = []
        self.parts: list[tuple[str, int]] = []

    async def enqueue_execution(self, signal_id: str, part: int = 0) -> None:
        self.enqueued.append(signal_id)
        self.parts.append((signal_id, part))


class PlainPasswordHasher(PasswordHasher):
    """ "plain$" + password: instant. Hashes with LEGACY_PREFIX verify but need a rehash."""

    PREFIX = "plain$"
    LEGACY_PREFIX = "legacy$"

    def __init__(self) -> None:
        self.hash_calls = 0
        self.verify_calls = 0

    async def hash(self, password: str) -> str:
        self.hash_calls += 1
        return self.PREFIX + password

    async def verify(self, password_hash: str, password: str) -> bool:
        self.verify_calls += 1
        return password_hash in (self.PREFIX + password, self.LEGACY_PREFIX + password)

    def needs_rehash(self, password_hash: str) -> bool:
        return not password_hash.startswith(self.PREFIX)


class RecordingMailer(Mailer):
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []
        self.failures: list[str] = []

    async def send(self, to: str, subject: str, body: str) -> None:
        if self.failures:
            raise DeliveryFailed(self.failures.pop(0))
        self.sent.append((to, subject, body))
