"""Issue 14 as a new user met it, on the paper exchange over HTTP: what fires on the
exchange is an order, a trade and a notification within 2 s, through the account's stream.

BTCUSDT at 65,000: entries of 0.007 BTC; TP 2 % = 66,300, SL 1 % = 64,350. The monitor's
timer is parked (its rounds are run on purpose), so what is recorded here is the stream's.
"""

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from tests.fakes.services import RecordingNotifier
from tests.integration.entrypoints.http.test_protection_flow import (
    TRAILING,
    NotifierProvider,
    enter,
    monitor,
    orders,
    settings_for,
)
from tests.integration.harness import Api, running_platform

D = Decimal
WITHIN_SECONDS = 2.0
STREAMING = functools.partial(settings_for, account_streams=True)
DCA = {"enabled": True, "trigger_drawdown_perc": "3", "size_multiplier": "1", "max_adds": 1}


async def second_order_within(
    api: Api, token: str, ready: Callable[[], Awaitable[bool]] | None = None
) -> list[dict[str, Any]]:
    """Polls the follower's orders until a second one (and whatever `ready` waits for) is
    there; fails if that takes longer than WITHIN_SECONDS."""
    started = time.monotonic()
    while True:
        shown = await orders(api, token)
        if len(shown) == 2 and (ready is None or await ready()):
            return shown
        took = time.monotonic() - started
        assert took <= WITHIN_SECONDS, f"not recorded after {took:.2f} s: {shown}"
        await asyncio.sleep(0.05)


async def trades(api: Api, token: str) -> list[dict[str, Any]]:
    response = await api.client.get("/api/trades", headers=api.auth(token))
    assert response.status_code == 200, response.text
    return list(response.json())


def legs(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(row["leg"], row["status"]) for row in rows]


async def test_a_take_profit_that_fired_is_an_order_a_trade_and_a_notice_within_2_s(
    database_url: str,
) -> None:
    notifier = RecordingNotifier()
    async with running_platform(STREAMING(database_url), NotifierProvider(notifier)) as api:
        await api.set_price("BTCUSDT", "65000")
        alice, _ = await api.follower("alice")
        await enter(api, tp_perc=2, sl_perc=1)

        await api.set_price("BTCUSDT", "66400")  # through the take-profit

        async def traded() -> bool:
            return bool(await trades(api, alice))

        shown = await second_order_within(api, alice, traded)
        assert legs(shown) == [("entry", "filled"), ("take_profit", "filled")]
        assert D(shown[1]["average_price"]) == D(66400)
        [trade] = await trades(api, alice)
        assert (trade["symbol"], D(trade["entry_price"]), D(trade["exit_price"])) == (
            "BTCUSDT",
            D(65000),
            D(66400),
        )
        assert notifier.events("position.") == ["position.take_profit"]
        # the monitor, had it watched this position, would find it recorded already
        await monitor(api)
        assert len(await orders(api, alice)) == 2
        assert notifier.events("position.") == ["position.take_profit"]


async def test_a_stop_that_fired_right_after_the_entry_is_recorded_once(
    database_url: str,
) -> None:
    """The follower with trailing stop and DCA whose SL fired about 2 s after the entry."""
    notifier = RecordingNotifier()
    async with running_platform(STREAMING(database_url), NotifierProvider(notifier)) as api:
        await api.set_price("BTCUSDT", "65000")
        alice, _ = await api.follower("alice", trailing=TRAILING, dca=DCA)
        await enter(api, tp_perc=2, sl_perc=1)
        await api.set_price("BTCUSDT", "64300")  # through the stop, before any round

        shown = await second_order_within(api, alice)
        assert legs(shown) == [("entry", "filled"), ("stop_loss", "filled")]
        await monitor(api)  # the round that follows records nothing more
        assert legs(await orders(api, alice)) == [("entry", "filled"), ("stop_loss", "filled")]
        assert notifier.events("position.") == ["position.stop_loss"]
