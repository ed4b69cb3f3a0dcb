"""An account's executions through ccxt's unified trades, for the portfolio sync."""

import functools
import time
from collections.abc import Collection
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from mimic.adapters.ccxt.account_calls import AccountCalls
from mimic.adapters.ccxt.clients import PooledClient
from mimic.adapters.ccxt.errors import Call
from mimic.adapters.ccxt.values import contract_size, to_decimal, to_decimal_or
from mimic.domain.errors import UnknownSymbol
from mimic.domain.orders import OrderSide
from mimic.domain.performance import AccountFill

FILLS_PAGE = 1000
FILLS_WINDOW_MS = 7 * 24 * 3600 * 1000


class AccountFills(AccountCalls):
    async def fetch_fills(self, symbols: Collection[str], since: datetime) -> list[AccountFill]:
        """`fetch_my_trades` per symbol (Binance lists fills per symbol only), in windows of
        at most 7 days (Binance's limit between startTime and endTime), paged within."""
        fills: list[AccountFill] = []
        now = int(time.time() * 1000)
        for symbol in sorted(symbols):
            try:
                market = await self._market(symbol)
            except UnknownSymbol:
                continue  # delisted, or never on this exchange
            start = int(since.timestamp() * 1000)
            seen: set[str] = set()
            while start <= now:
                end = min(start + FILLS_WINDOW_MS, now)
                page = await self._call(
                    Call.READ, functools.partial(my_trades, market, start, end, FILLS_PAGE)
                )
                new = [t for t in page if str(t["id"]) not in seen]
                seen.update(str(t["id"]) for t in new)
                fills.extend(account_fill(symbol, market, t) for t in new)
                if len(page) >= FILLS_PAGE and new:
                    start = max(int(t["timestamp"]) for t in new)  # inclusive: ids dedupe
                else:
                    start = end + 1
        return fills


async def my_trades(
    market: dict[str, Any], since_ms: int, until_ms: int, limit: int, pooled: PooledClient
) -> list[dict[str, Any]]:
    trades: list[dict[str, Any]] = await pooled.client.fetch_my_trades(
        market["symbol"], since_ms, limit, {"until": until_ms}
    )
    return trades


def account_fill(symbol: str, market: dict[str, Any], trade: dict[str, Any]) -> AccountFill:
    """Binance reports realized PnL and commission in `info`; elsewhere ccxt's unified fee
    is used and the realized PnL is left to be worked out from the entry price."""
    info = trade.get("info") or {}
    fee = info.get("commission")
    if fee is None:
        fee = (trade.get("fee") or {}).get("cost")
    realized = info.get("realizedPnl")
    # Binance's documentation shows the commission signed either way; a market order pays.
    cost = abs(to_decimal_or(fee, Decimal(0)))
    return AccountFill(
        fill_id=str(trade["id"]),
        symbol=symbol,
        side=OrderSide(str(trade["side"]).lower()),
        quantity=to_decimal(trade["amount"]) * contract_size(market),
        price=to_decimal(trade["price"]),
        fee=cost,
        realized_pnl=None if realized is None else to_decimal(realized),
        executed_at=datetime.fromtimestamp(int(trade["timestamp"]) / 1000, UTC),
        order_id=None if trade.get("order") is None else str(trade["order"]),
    )
