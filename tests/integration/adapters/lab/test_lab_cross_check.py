"""The lab against the live pipeline: the same alerts and XRP candles, the same fills.

Live: the webhook, the worker, the paper exchange, whose price is fed by the candles. The
feed walks each candle as the lab defines it (open, then the open position's worse extreme,
the other extreme, the close) and, like a real tick stream, passes through every price on
the way: it stops at each stop-loss / take-profit level the platform placed and at the first
tick beyond each trailing stop and at the price of the next DCA add (read from
GET /api/positions/protection), so that the paper exchange and the position monitor, which
runs a round after every price, act there.
"""

from datetime import UTC, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from mimic.adapters.lab.inputs import read_candles
from mimic.adapters.paper.rules import paper_listings
from mimic.adapters.paper.venue import PaperVenue
from mimic.domain.alerts import read_alert
from mimic.domain.lab.accounts import LabFollower, LabMarket
from mimic.domain.lab.book import Costs
from mimic.domain.lab.candles import Candle
from mimic.domain.lab.engine import replay
from mimic.domain.lab.timeline import Alert
from mimic.domain.protection import DcaSettings, ProtectionSettings, TrailingSettings
from mimic.domain.risk import FollowerRiskSettings, PlatformRiskSettings
from tests.integration.harness import Api, make_settings, running_platform
from tests.paths import XRP_CANDLES

# (candle index, action): bob's take-profit fires in candle 5 and his stop in candle 57.
ALERTS = [(2, "long"), (40, "close"), (45, "short"), (90, "close")]
BOB = {"risk_perc": "2", "leverage": 10, "tp_perc": "0.8", "sl_perc": "0.5"}
CAROL = {
    "risk_perc": "2",
    "leverage": 10,
    "trailing": {"enabled": True, "activation_perc": "0.5", "callback_perc": "0.2"},
}
DAVE_TRIGGER = Decimal("0.5")
DAVE = {
    "risk_perc": "2",
    "leverage": 10,
    "dca": {
        "enabled": True,
        "trigger_drawdown_perc": str(DAVE_TRIGGER),
        "size_multiplier": "1",
        "max_adds": 1,
    },
}
TICK = paper_listings()["XRPUSDT"].rules.tick_size
Fill = tuple[str, Decimal, Decimal, Decimal, Decimal]


async def _levels(api: Api, tokens: list[str]) -> tuple[str | None, list[Decimal]]:
    """(side of the open positions, every stop and target protecting them: native TP/SL and
    the first tick at or beyond a trailing stop)."""
    side, levels = None, []
    for token in tokens:
        response = await api.client.get("/api/positions/protection", headers=api.auth(token))
        assert response.status_code == 200, response.text
        for item in response.json():
            side = item["side"]
            levels += [Decimal(item[k]) for k in ("stop_loss", "take_profit") if item[k]]
            rounding = ROUND_FLOOR if side == "long" else ROUND_CEILING
            if item["trailing_stop"]:
                levels.append(Decimal(item["trailing_stop"]).quantize(TICK, rounding=rounding))
            if item["dca_enabled"] and item["dca_adds"] == 0:  # dave's one add
                move = DAVE_TRIGGER / 100 * (-1 if side == "long" else 1)
                add_at = Decimal(item["entry_price"]) * (1 + move)
                levels.append(add_at.quantize(TICK, rounding=rounding))
    return side, levels


async def _price(api: Api, price: Decimal) -> None:
    """The paper price moves (native TP/SL fire); then a round of the position monitor."""
    await api.set_price("XRPUSDT", str(price))
    response = await api.client.post("/api/admin/monitor/run", headers=api.auth(api.admin_token))
    assert response.status_code == 200, response.text


async def _walk(api: Api, candle: Candle, tokens: list[str]) -> None:
    """The rest of the candle after its open, through every level on the way."""
    price = candle.open
    side, _ = await _levels(api, tokens)
    worse, better = (candle.low, candle.high) if side == "long" else (candle.high, candle.low)
    for target in (worse, better, candle.close):
        _, levels = await _levels(api, tokens)  # a trailing stop moves with the best price
        low, high = min(price, target), max(price, target)
        crossed = sorted({lv for lv in levels if low <= lv <= high}, reverse=target < price)
        for level in [*crossed, target]:
            await _price(api, level)
        price = target


async def test_the_replay_makes_the_fills_the_live_pipeline_makes(sqlite_url: str) -> None:
    series = read_candles(XRP_CANDLES.read_bytes(), XRP_CANDLES.name)["XRPUSDT"]
    due = dict(ALERTS)
    async with running_platform(make_settings(sqlite_url)) as api:
        await api.set_price("XRPUSDT", str(series.candles[0].open))
        alice, alice_account = await api.follower("alice")
        bob, bob_account = await api.follower("bob", **BOB)
        carol, carol_account = await api.follower("carol", **CAROL)
        dave, dave_account = await api.follower("dave", **DAVE)
        started = datetime.now(UTC)
        for index in range(max(due) + 1):
            candle = series.candles[index]
            await _price(api, candle.open)
            if index in due:
                # An id: two identical close alerts are two alerts, not a resend.
                accepted = await api.signal(
                    symbol="BINANCE:XRPUSDT.P", action=due[index], id=f"alert-{index}"
                )
                await api.settled_report(accepted["signal_id"])
            await _walk(api, candle, [alice, bob, carol, dave])
        container = api.client.app.state.dishka_container
        venue = await container.get(PaperVenue)
        live = {
            name: [
                (f.side.value, f.quantity, f.price, f.fee, f.realized_pnl or Decimal(0))
                for f in await venue.fills(account, started)
            ]
            for name, account in (
                ("alice", alice_account),
                ("bob", bob_account),
                ("carol", carol_account),
                ("dave", dave_account),
            )
        }

    followers = [
        LabFollower("alice", Decimal(10000)),
        LabFollower(
            "bob",
            Decimal(10000),
            FollowerRiskSettings(risk_perc=Decimal(2), leverage=10),
            ProtectionSettings(tp_perc=Decimal("0.8"), sl_perc=Decimal("0.5")),
        ),
        LabFollower(
            "carol",
            Decimal(10000),
            FollowerRiskSettings(risk_perc=Decimal(2), leverage=10),
            ProtectionSettings(
                trailing=TrailingSettings(True, Decimal("0.5"), Decimal("0.2")),
            ),
        ),
        LabFollower(
            "dave",
            Decimal(10000),
            FollowerRiskSettings(risk_perc=Decimal(2), leverage=10),
            ProtectionSettings(dca=DcaSettings(True, DAVE_TRIGGER, Decimal(1), 1)),
        ),
    ]
    result = replay(
        LabMarket({"XRPUSDT": series}, {"XRPUSDT": paper_listings()["XRPUSDT"].rules}),
        [Alert(series.times[i], read_alert({"symbol": "XRPUSDT", "action": a})) for i, a in ALERTS],
        followers,
        platform=PlatformRiskSettings(),
        costs=Costs(fee_bps=Decimal(4)),  # the paper exchange's taker fee
    )
    lab: dict[str, list[Fill]] = {
        account.name: [
            (f.side.value, f.quantity, f.price, f.fee, f.realized_pnl) for f in account.book.fills
        ]
        for account in result.followers
    }
    kinds = {a.name: [f.kind.value for f in a.book.fills] for a in result.followers}
    assert kinds == {
        "alice": ["entry", "close", "entry", "close"],
        "bob": ["entry", "take_profit", "entry", "stop_loss"],
        "carol": ["entry", "trailing_stop", "entry", "close"],
        "dave": ["entry", "close", "entry", "dca", "close"],
    }
    assert lab == live
