"""The real Binance USD-M market rules the fakes and the paper exchange trade by."""

import functools
import json
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any

from mimic.domain.market import MarketRules

EXCHANGEINFO = (
    Path(__file__).resolve().parents[2]
    / "src"
    / "mimic"
    / "adapters"
    / "paper"
    / "exchangeinfo.json"
)


def parse_market_rules(symbol_info: Mapping[str, Any]) -> MarketRules:
    """MarketRules from one entry of Binance's `exchangeInfo.symbols` (market orders)."""
    filters = {f["filterType"]: f for f in symbol_info["filters"]}
    lot = filters["MARKET_LOT_SIZE"]
    return MarketRules(
        symbol=symbol_info["symbol"],
        step_size=Decimal(lot["stepSize"]),
        tick_size=Decimal(filters["PRICE_FILTER"]["tickSize"]),
        min_qty=Decimal(lot["minQty"]),
        max_qty=Decimal(lot["maxQty"]),
        min_notional=Decimal(filters["MIN_NOTIONAL"]["notional"]),
    )


@functools.cache
def binance_rules() -> Mapping[str, MarketRules]:
    """The real USD-M rules the paper exchange is seeded with, by symbol."""
    info = json.loads(EXCHANGEINFO.read_text())
    return MappingProxyType({s["symbol"]: parse_market_rules(s) for s in info["symbols"]})


def rules_for(symbol: str) -> MarketRules:
    return binance_rules()[symbol]
