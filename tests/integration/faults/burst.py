"""A webhook burst as TradingView sends one: independent alerts a few tens of milliseconds
apart, each given up after 3 s, spread over the `serve` processes by a load balancer."""

import asyncio
import time
import uuid
from dataclasses import dataclass, field

import httpx

from tests.integration.harness import PASSPHRASE

TRADINGVIEW_TIMEOUT = 3.0
SYMBOLS = ("ETHUSDT", "BTCUSDT", "XRPUSDT")
ACTIONS = ("long", "close", "short", "close")


@dataclass(frozen=True, slots=True)
class Sent:
    external_id: str
    url: str
    status: int | None  # None: no answer (refused, reset, or given up after 3 s)
    signal_id: str | None
    seconds: float


@dataclass
class Burst:
    """Fires the alerts it is allowed, `interval` apart, each answered or not on its own."""

    client: httpx.AsyncClient
    urls: list[str]
    interval: float
    sent: list[Sent] = field(default_factory=list)
    fired: int = 0
    allowed: int = 0
    _closed: bool = False
    _more: asyncio.Event = field(default_factory=asyncio.Event)
    _tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    def allow(self, count: int) -> None:
        self.allowed += count
        self._more.set()

    def close(self) -> None:
        """`send` fires what is still allowed, waits for the answers and returns."""
        self._closed = True
        self._more.set()

    @property
    def exhausted(self) -> bool:
        return self.fired >= self.allowed

    async def send(self) -> None:
        in_flight: set[asyncio.Task[None]] = set()
        while not (self._closed and self.exhausted):
            if self.exhausted:
                await self._more.wait()
                self._more.clear()
                continue
            task = asyncio.create_task(self._send_one(self.fired))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
            self.fired += 1
            await asyncio.sleep(self.interval)  # the alerts' pace, not a synchronisation
        await asyncio.gather(*in_flight)

    async def _send_one(self, n: int) -> None:
        url = self.urls[n % len(self.urls)]
        symbol = SYMBOLS[n % len(SYMBOLS)]
        action = ACTIONS[(n // len(SYMBOLS)) % len(ACTIONS)]
        external_id = f"{self._tag}-{n}"
        body = {"passphrase": PASSPHRASE, "symbol": symbol, "action": action, "id": external_id}
        started = time.monotonic()
        status, signal_id = None, None
        try:
            response = await self.client.post(url, json=body, timeout=TRADINGVIEW_TIMEOUT)
        except httpx.HTTPError:
            pass
        else:
            status = response.status_code
            if status == 202:
                signal_id = str(response.json()["signal_id"])
        self.sent.append(Sent(external_id, url, status, signal_id, time.monotonic() - started))

    def acknowledged(self) -> list[str]:
        return [s.signal_id for s in self.sent if s.status == 202 and s.signal_id]

    def summary(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for s in self.sent:
            key = "no answer" if s.status is None else str(s.status)
            counts[key] = counts.get(key, 0) + 1
        return counts
