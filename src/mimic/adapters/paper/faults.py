"""Programmable failures of the paper exchange, so tests and demos can rehearse bad days.

    faults = PaperFaults(latency=0.05)           # every order waits 50 ms first
    faults.add("timeout_after_execution")        # the next order fills, then times out
    faults.add("rate_limited", times=3, account_id="a1", retry_after=2.0)
    faults.add(Fault.INSUFFICIENT_MARGIN, times=None, symbol="BTCUSDT")  # until clear()
    faults.clear()

Faults apply to market orders only; the first added rule that matches an order is used.
"""

import asyncio
import enum
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from mimic.domain.errors import InsufficientMargin, OutcomeUnknown, RateLimited


class Fault(enum.StrEnum):
    # A 503 after the exchange acted: the order exists, the caller cannot know it.
    TIMEOUT_AFTER_EXECUTION = "timeout_after_execution"
    # The request died on the way in: nothing happened, but the caller cannot know that.
    TIMEOUT_BEFORE_EXECUTION = "timeout_before_execution"
    RATE_LIMITED = "rate_limited"
    INSUFFICIENT_MARGIN = "insufficient_margin"


@dataclass(slots=True)
class _Rule:
    fault: Fault
    remaining: int | None  # None: until cleared
    account_id: str | None
    symbol: str | None
    retry_after: float

    def matches(self, account_id: str, symbol: str) -> bool:
        return self.account_id in (None, account_id) and self.symbol in (None, symbol)

    def raise_before_execution(self) -> None:
        if self.fault is Fault.RATE_LIMITED:
            raise RateLimited("too many requests (injected fault)", self.retry_after)
        if self.fault is Fault.INSUFFICIENT_MARGIN:
            raise InsufficientMargin("margin is insufficient (injected fault)")
        if self.fault is Fault.TIMEOUT_BEFORE_EXECUTION:
            raise OutcomeUnknown("timed out waiting for the exchange (injected fault)")


class PaperFaults:
    def __init__(self, latency: float = 0.0) -> None:
        self.latency = latency  # seconds added before each order
        self._rules: list[_Rule] = []

    def add(
        self,
        fault: Fault | str,
        *,
        times: int | None = 1,
        account_id: str | None = None,
        symbol: str | None = None,
        retry_after: float = 1.0,
    ) -> None:
        """Inject `fault` into the next `times` matching orders (None: every one)."""
        if times is not None and times < 1:
            raise ValueError("times must be at least 1, or None for every order")
        self._rules.append(_Rule(Fault(fault), times, account_id, symbol, retry_after))

    def clear(self) -> None:
        self._rules.clear()

    @property
    def idle(self) -> bool:
        """No latency and no fault to inject: `around_order` would do nothing."""
        return self.latency <= 0 and not self._rules

    @asynccontextmanager
    async def around_order(self, account_id: str, symbol: str) -> AsyncIterator[None]:
        """Wraps the execution of one order: latency, then a fault before or after it."""
        if self.latency > 0:
            await asyncio.sleep(self.latency)
        rule = self._take(account_id, symbol)
        if rule is not None:
            rule.raise_before_execution()
        yield
        if rule is not None and rule.fault is Fault.TIMEOUT_AFTER_EXECUTION:
            raise OutcomeUnknown("timed out waiting for the exchange (injected fault)")

    def _take(self, account_id: str, symbol: str) -> _Rule | None:
        # No await between finding and consuming a rule: concurrent orders each take one.
        for rule in self._rules:
            if rule.matches(account_id, symbol):
                if rule.remaining is not None:
                    rule.remaining -= 1
                    if rule.remaining == 0:
                        self._rules.remove(rule)
                return rule
        return None
