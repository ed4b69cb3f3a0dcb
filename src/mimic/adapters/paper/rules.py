"""What the paper exchange lists: real Binance USD-M rules, read from `exchangeinfo.json`.

The file is an unedited `/fapi/v1/exchangeInfo` response, so sizing is tested against real
step sizes and min notionals; every number here comes from it except the starting prices.
"""

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from typing import Any

from mimic.domain.decimals import plain_decimal
from mimic.domain.market import MarketRules

# Where each market's price board starts until an admin sets a price.
DEFAULT_MARK_PRICES: Mapping[str, Decimal] = {
    "BTCUSDT": Decimal(65000),
    "ETHUSDT": Decimal(3500),
    "LTCUSDT": Decimal(80),
    "ADAUSDT": Decimal("0.45"),
    "XRPUSDT": Decimal("0.6"),
    "DOGEUSDT": Decimal("0.15"),
    "TRXUSDT": Decimal("0.12"),
}


@dataclass(frozen=True, slots=True)
class PaperListing:
    """One tradable market: its order rules and the price range Binance accepts for it."""

    rules: MarketRules
    min_price: Decimal
    max_price: Decimal
    default_mark_price: Decimal

    def accepts_price(self, price: Decimal) -> bool:
        return self.min_price <= price <= self.max_price


@functools.cache
def paper_listings() -> Mapping[str, PaperListing]:
    """Every TRADING market of the bundled exchangeInfo, by symbol (parsed once)."""
    text = resources.files("mimic.adapters.paper").joinpath("exchangeinfo.json").read_text("utf-8")
    listings = {}
    for market in json.loads(text)["symbols"]:
        if market["status"] == "TRADING":
            listing = _listing(market)
            listings[listing.rules.symbol] = listing
    return listings


def _listing(market: dict[str, Any]) -> PaperListing:
    filters = {f["filterType"]: f for f in market["filters"]}
    # Market orders are bound by MARKET_LOT_SIZE (a smaller max than LOT_SIZE on Binance).
    lot = filters.get("MARKET_LOT_SIZE") or filters["LOT_SIZE"]
    price = filters["PRICE_FILTER"]
    symbol = market["symbol"]
    # exchangeInfo carries no leverage brackets (that endpoint needs an API key), so every
    # market gets the MarketRules default: Binance's top bracket maximum, 125.
    rules = MarketRules(
        symbol=symbol,
        step_size=_number(lot["stepSize"]),
        tick_size=_number(price["tickSize"]),
        min_qty=_number(lot["minQty"]),
        max_qty=_number(lot["maxQty"]),
        min_notional=_number(filters["MIN_NOTIONAL"]["notional"]),
    )
    listing = PaperListing(
        rules=rules,
        min_price=_number(price["minPrice"]),
        max_price=_number(price["maxPrice"]),
        default_mark_price=DEFAULT_MARK_PRICES[symbol],
    )
    if not listing.accepts_price(listing.default_mark_price):
        raise ValueError(f"default price of {symbol} is outside its PRICE_FILTER")
    return listing


def _number(text: str) -> Decimal:
    """Binance pads with zeros ("0.10"); drop them."""
    return plain_decimal(Decimal(text))
