"""Position protection over HTTP on the paper exchange: native TP/SL, trailing stop, DCA.

Defaults: risk 1 %, leverage 5, 10,000 USDT per follower; BTCUSDT (tick 0.1, step 0.001)
at 65,000 -> entries of 10000 x 1 % x 5 / 65000 = 0.00769.. -> 0.007 BTC. The monitor's
timer is parked: each round is run on purpose (POST /api/admin/monitor/run), so every
price step is followed by exactly one round.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from dishka import Provider, Scope, provide
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from mimic.adapters.price_feeds import ReplayPriceFeed, candle_prices
from mimic.adapters.redis.trailing import RedisTrailingStateStore
from mimic.adapters.sqlalchemy import tables
from mimic.domain.positions import PositionSide
from mimic.domain.trailing import TrailingParams, TrailingState
from mimic.ports.protection import TrailingStateStore
from mimic.ports.services import Notifier
from tests.fakes.services import RecordingNotifier
from tests.integration.harness import Api, make_settings, running_platform
from tests.paths import XRP_CANDLES

D = Decimal
TRAILING = {"enabled": True, "activation_perc": "2", "callback_perc": "1"}


class NotifierProvider(Provider):
    def __init__(self, notifier: RecordingNotifier) -> None:
        super().__init__()
        self.notifier = notifier

    @provide(scope=Scope.APP)
    def notifier_(self) -> Notifier:
        return self.notifier


class RedisTrailingProvider(Provider):
    """The production store in an embedded app: what a worker restart must survive."""

    def __init__(self, redis_url: str, prefix: str) -> None:
        super().__init__()
        self.redis_url, self.prefix = redis_url, prefix

    @provide(scope=Scope.APP)
    async def store(self) -> AsyncIterator[TrailingStateStore]:
        client = Redis.from_url(self.redis_url)
        yield RedisTrailingStateStore(client, prefix=self.prefix)
        await client.aclose()


def settings_for(database_url: str, *, account_streams: bool = False) -> Any:
    """Each monitor round is run on purpose; account streams (which record a fired TP/SL
    on their own, see test_account_events) only where a test asks for them."""
    return make_settings(
        database_url, monitor_interval=timedelta(hours=1), account_streams=account_streams
    )


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(database_url)
    yield engine
    await engine.dispose()


async def protective(engine: AsyncEngine, account_id: str) -> list[tuple[str, str, Decimal]]:
    t = tables.paper_protective_orders.c
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(t.kind, t.status, t.trigger_price)
            .where(t.account_id == account_id)
            .order_by(t.created_at, t.kind)
        )
        return [(r.kind, r.status, r.trigger_price) for r in rows]


async def orders(api: Api, token: str) -> list[dict[str, Any]]:
    response = await api.client.get("/api/orders", headers=api.auth(token))
    assert response.status_code == 200, response.text
    return list(reversed(response.json()))  # oldest first


async def positions(api: Api, token: str) -> list[tuple[str, str, Decimal, Decimal]]:
    response = await api.client.get("/api/positions", headers=api.auth(token))
    return [
        (p["symbol"], p["side"], D(p["quantity"]), D(p["entry_price"])) for p in response.json()
    ]


async def protection(api: Api, token: str) -> list[dict[str, Any]]:
    response = await api.client.get("/api/positions/protection", headers=api.auth(token))
    assert response.status_code == 200, response.text
    return list(response.json())


async def monitor(api: Api) -> dict[str, Any]:
    response = await api.client.post("/api/admin/monitor/run", headers=api.auth(api.admin_token))
    assert response.status_code == 200, response.text
    return dict(response.json())


async def step(api: Api, price: str) -> dict[str, Any]:
    await api.set_price("BTCUSDT", price)
    return await monitor(api)


async def enter(api: Api, **signal: Any) -> None:
    sent = await api.signal(symbol="BTCUSDT", action="long", **signal)
    report = await api.settled_report(sent["signal_id"])
    assert [a["status"] for a in report["accounts"]] == ["filled"], report


async def test_tp_and_sl_are_placed_and_the_stop_closes_the_position(
    database_url: str, engine: AsyncEngine
) -> None:
    async with running_platform(settings_for(database_url)) as api:
        await api.set_price("BTCUSDT", "65000")
        alice, account = await api.follower("alice")
        await enter(api, tp_perc=2, sl_perc=1)
        [entry] = await orders(api, alice)
        # 65000 x 0.99 = 64350; 65000 x 1.02 = 66300
        assert (D(entry["stop_loss"]), D(entry["take_profit"])) == (D(64350), D(66300))
        assert entry["protection_error"] is None
        [shown] = await protection(api, alice)
        assert (shown["symbol"], shown["stop_loss"], shown["take_profit"]) == (
            "BTCUSDT",
            "64350",
            "66300",
        )
        assert (shown["trailing_enabled"], shown["trailing_stop"]) == (False, None)
        assert await protective(engine, account) == [
            ("sl", "open", D(64350)),
            ("tp", "open", D(66300)),
        ]
        await api.set_price("BTCUSDT", "64400")  # not yet
        assert await positions(api, alice) == [("BTCUSDT", "long", D("0.007"), D(65000))]

        await api.set_price("BTCUSDT", "64300")  # through the stop

        assert await positions(api, alice) == []
        assert await protective(engine, account) == [
            ("sl", "triggered", D(64350)),
            ("tp", "cancelled", D(66300)),
        ]
        # wallet: 10000 - entry fee 0.182 (0.007 x 65000 x 0.0004)
        #   + realized (64300 - 65000) x 0.007 = -4.9 - exit fee 0.18004 = 9994.73796
        balance = (await api.client.get("/api/balance", headers=api.auth(alice))).json()
        assert D(balance[0]["wallet_balance"]) == D("9994.73796")


async def test_a_close_signal_cancels_the_remaining_protection(
    database_url: str, engine: AsyncEngine
) -> None:
    async with running_platform(settings_for(database_url)) as api:
        await api.set_price("BTCUSDT", "65000")
        _, account = await api.follower("alice")
        await enter(api, tp_perc=2, sl_perc=1)
        closing = await api.signal(symbol="BTCUSDT", action="close")
        await api.settled_report(closing["signal_id"])
        assert [status for _, status, _ in await protective(engine, account)] == [
            "cancelled",
            "cancelled",
        ]


async def test_trailing_stop_driven_step_by_step(database_url: str) -> None:
    notifier = RecordingNotifier()
    async with running_platform(settings_for(database_url), NotifierProvider(notifier)) as api:
        await api.set_price("BTCUSDT", "65000")
        alice, _ = await api.follower("alice", trailing=TRAILING)
        await enter(api)
        # activation at 65000 x 1.02 = 66300; the stop is 1 % under the best price since
        for price in ("65500", "66300", "67000", "66500"):
            report = await step(api, price)
            assert report["trailing_closes"] == [], price  # 66300 -> stop 65637, 67000 -> 66330
            assert await positions(api, alice) != []
        [shown] = await protection(api, alice)
        assert (shown["trailing_enabled"], shown["trailing_activation_price"]) == (True, "66300")
        assert (shown["trailing_stop"], shown["trailing_best_price"]) == ("66330", "67000")
        report = await step(api, "66330")  # 67000 x 0.99: hit
        assert len(report["trailing_closes"]) == 1
        assert await positions(api, alice) == []
        entry, close = await orders(api, alice)
        assert (close["leg"], close["side"], close["quantity"], close["reduce_only"]) == (
            "trailing_stop",
            "sell",
            "0.007",
            True,
        )
        assert (close["status"], D(close["average_price"])) == ("filled", D(66330))
        assert (
            close["reason"]
            == "trailing stop hit at 66330: stop 66330 (best 67000 since activation)"
        )
        assert close["parent_id"] == entry["id"]
        assert close["signal_id"] is None
        assert notifier.events("position.") == ["position.trailing_stop"]
        # later rounds and prices change nothing: closed once
        for price in ("66000", "68000"):
            assert (await step(api, price))["trailing_closes"] == []
        assert len(await orders(api, alice)) == 2


async def test_dca_adds_at_the_trigger_and_moves_tp_and_sl(
    database_url: str, engine: AsyncEngine
) -> None:
    notifier = RecordingNotifier()
    dca = {"enabled": True, "trigger_drawdown_perc": "2", "size_multiplier": "1", "max_adds": 1}
    async with running_platform(settings_for(database_url), NotifierProvider(notifier)) as api:
        await api.set_price("BTCUSDT", "65000")
        alice, account = await api.follower("alice", dca=dca)
        await enter(api, tp_perc=5, sl_perc=5)
        # 65000 x 0.95 = 61750; 65000 x 1.05 = 68250
        assert [p for _, _, p in await protective(engine, account)] == [D(61750), D(68250)]
        assert (await step(api, "63800"))["dca_adds"] == []  # 1.85 % down: not yet
        report = await step(api, "63700")  # 2 % down: add 1 x 0.007 (multiplier 1)
        assert len(report["dca_adds"]) == 1
        # (0.007 x 65000 + 0.007 x 63700) / 0.014 = 64350
        assert await positions(api, alice) == [("BTCUSDT", "long", D("0.014"), D(64350))]
        entry, add = await orders(api, alice)
        assert (add["leg"], add["side"], add["quantity"], add["status"]) == (
            "dca",
            "buy",
            "0.007",
            "filled",
        )
        assert add["reason"] == "DCA add 1 at 63700: 2.00% against the average entry 65000"
        # TP/SL moved to the new average: 64350 x 0.95 = 61132.5, 64350 x 1.05 = 67567.5
        assert (D(entry["stop_loss"]), D(entry["take_profit"])) == (D("61132.5"), D("67567.5"))
        assert await protective(engine, account) == [
            ("sl", "cancelled", D(61750)),
            ("tp", "cancelled", D(68250)),
            ("sl", "open", D("61132.5")),
            ("tp", "open", D("67567.5")),
        ]
        assert notifier.events("position.") == ["position.dca"]
        [shown] = await protection(api, alice)
        assert (shown["dca_enabled"], shown["dca_adds"], shown["stop_loss"]) == (
            True,
            1,
            "61132.5",
        )
        assert (await step(api, "60000"))["dca_adds"] == []  # max_adds reached; SL fires
        assert await positions(api, alice) == []
        assert await protection(api, alice) == []
        # the stop's fill is recorded and notified once, by the round that no longer sees it
        assert (await monitor(api))["protection_fills"] == []
        *_, recorded = await orders(api, alice)
        assert (recorded["leg"], D(recorded["average_price"])) == ("stop_loss", D(60000))
        assert notifier.events("position.") == ["position.dca", "position.stop_loss"]


async def test_bad_protection_settings_are_refused_naming_the_field(database_url: str) -> None:
    async with running_platform(settings_for(database_url)) as api:
        alice, _ = await api.follower("alice")
        for body, field in (
            (
                {"trailing": {"enabled": True, "activation_perc": "1", "callback_perc": "2"}},
                "trailing.callback_perc",
            ),
            ({"trailing": {"enabled": True}}, "trailing.activation_perc"),
            ({"dca": {"size_multiplier": "-1"}}, "dca.size_multiplier"),
            ({"dca": {"max_adds": 50}}, "dca.max_adds"),
            ({"dca": {"enabled": True, "size_multiplier": "2"}}, "dca.trigger_drawdown_perc"),
            ({"tp_perc": "-1"}, "tp_perc"),
            ({"sl_perc": "100"}, "sl_perc"),
            ({"risk_perc": "2", "tp_perc": "0"}, "tp_perc"),
        ):
            response = await api.client.patch(
                "/api/me/settings", json=body, headers=api.auth(alice)
            )
            assert response.status_code == 422, (body, response.text)
            assert response.json()["field"] == field, body
        me = (await api.client.get("/api/me", headers=api.auth(alice))).json()["settings"]
        assert me["risk_perc"] is None  # a refused request changes nothing
        assert me["trailing"]["enabled"] is False

        response = await api.client.patch(
            "/api/me/settings",
            json={"tp_perc": "3", "trailing": TRAILING},
            headers=api.auth(alice),
        )
        assert response.status_code == 200, response.text
        response = await api.client.patch(
            "/api/me/settings", json={"dca": {"max_adds": 2}}, headers=api.auth(alice)
        )
        me = (await api.client.get("/api/me", headers=api.auth(alice))).json()["settings"]
        assert (me["tp_perc"], me["sl_perc"]) == ("3", None)
        assert me["trailing"] == {"enabled": True, "activation_perc": "2", "callback_perc": "1"}
        assert me["dca"]["max_adds"] == 2
        assert me["dca"]["enabled"] is False


async def test_worker_restart_in_the_middle_of_a_trailing_stop_closes_once(
    database_url: str, redis_url: str
) -> None:
    prefix = f"test:{uuid.uuid4().hex}:trailing:"
    settings = settings_for(database_url)
    first = RecordingNotifier()
    async with running_platform(
        settings, RedisTrailingProvider(redis_url, prefix), NotifierProvider(first)
    ) as api:
        await api.set_price("BTCUSDT", "65000")
        alice, _ = await api.follower("alice", trailing=TRAILING)
        await enter(api)
        await step(api, "67000")  # activated, stop 66330, kept in Redis
    # the worker is gone; a new one starts with nothing in memory
    second = RecordingNotifier()
    async with running_platform(
        settings, RedisTrailingProvider(redis_url, prefix), NotifierProvider(second)
    ) as api:
        assert (await step(api, "66400"))["trailing_closes"] == []  # above the stop it knew
        await api.set_price("BTCUSDT", "66300")
        # two workers run the same round at once: one close between them
        reports = await asyncio.gather(monitor(api), monitor(api))
        assert sum(len(r["trailing_closes"]) for r in reports) == 1
        assert await positions(api, alice) == []
        closes = [o for o in await orders(api, alice) if o["leg"] == "trailing_stop"]
        assert [(o["status"], o["average_price"]) for o in closes] == [("filled", "66300")]
        assert second.events() == ["position.trailing_stop"]
    client = Redis.from_url(redis_url)
    try:
        assert await client.keys(prefix + "*") == []  # discarded once the position closed
    finally:
        await client.aclose()


async def test_trailing_stop_over_replayed_xrp_candles_closes_where_the_rule_says(
    database_url: str,
) -> None:
    """A simulation: XRP's 2021-11-15 prices, one monitor round per price."""
    trailing = {"enabled": True, "activation_perc": "1", "callback_perc": "0.5"}
    prices = list(candle_prices(XRP_CANDLES))
    # where the pure rule says the stop is hit, walking the same prices
    params = TrailingParams(D(1), D("0.5"))
    state = TrailingState(PositionSide.LONG, prices[0])
    hit_at = next(i for i, p in enumerate(prices[1:], 1) if (state := state.advance(p, params)).hit)
    replay = ReplayPriceFeed.from_csv("XRPUSDT", XRP_CANDLES)
    async with running_platform(settings_for(database_url)) as api:
        alice, _ = await api.follower("alice", trailing=trailing)
        await api.set_price("XRPUSDT", str(await replay.advance()))
        sent = await api.signal(symbol="XRPUSDT", action="long")
        await api.settled_report(sent["signal_id"])
        # 10000 x 1 % x 5 / 1.1893 = 420.42.. -> 420.4 XRP (step 0.1)
        assert [(s, q) for s, _, q, _ in await positions(api, alice)] == [("XRPUSDT", D("420.4"))]
        closed_at = None
        for step_number in range(1, hit_at + 5):
            price = await replay.advance()
            assert price is not None
            await api.set_price("XRPUSDT", str(price))
            if (await monitor(api))["trailing_closes"]:
                assert closed_at is None, "closed twice"
                closed_at = step_number
        assert closed_at == hit_at
        assert await positions(api, alice) == []
        close = (await orders(api, alice))[-1]
        assert close["leg"] == "trailing_stop"
        assert D(close["average_price"]) == prices[hit_at]
