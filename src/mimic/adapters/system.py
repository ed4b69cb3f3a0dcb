import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from argon2 import PasswordHasher as Argon2
from argon2.exceptions import InvalidHashError, VerificationError

from mimic.domain.errors import TooManyRequests
from mimic.ports.services import Clock, PasswordHasher


class SystemClock(Clock):
    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class Argon2PasswordHasher(PasswordHasher):
    """argon2id above OWASP's minimum (19 MiB, t=2, p=1): 64 MiB, t=3, p=1."""

    def __init__(self, memory_kib: int = 64 * 1024, time_cost: int = 3) -> None:
        self._argon = Argon2(memory_cost=memory_kib, time_cost=time_cost, parallelism=1)

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._argon.hash, password)

    async def verify(self, password_hash: str, password: str) -> bool:
        return await asyncio.to_thread(self._verify, password_hash, password)

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._argon.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        return self._argon.check_needs_rehash(password_hash)


class BoundedPasswordHasher(PasswordHasher):
    """At most `concurrency` hashes at once (argon2id takes 64 MiB and a core each), and at
    most `waiting` more queued behind them: a request waits holding a database connection,
    so a longer queue would starve the pool; beyond it the caller is told to retry (429)."""

    def __init__(self, inner: PasswordHasher, concurrency: int, waiting: int) -> None:
        self._inner = inner
        self._turns = asyncio.Semaphore(concurrency)
        self._admissible = concurrency + waiting
        self._admitted = 0

    @contextlib.asynccontextmanager
    async def _turn(self) -> AsyncIterator[None]:
        if self._admitted >= self._admissible:
            raise TooManyRequests("too many password checks at once; try again in a moment", 1)
        self._admitted += 1
        try:
            async with self._turns:
                yield
        finally:
            self._admitted -= 1

    async def hash(self, password: str) -> str:
        async with self._turn():
            return await self._inner.hash(password)

    async def verify(self, password_hash: str, password: str) -> bool:
        async with self._turn():
            return await self._inner.verify(password_hash, password)

    def needs_rehash(self, password_hash: str) -> bool:
        return self._inner.needs_rehash(password_hash)
