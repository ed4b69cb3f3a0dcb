"""Binance USD-M positions as the streamed account state keeps them (ports.streamed_accounts):
from positionRisk rows (a seed, a REST refresh) and back to Mimic's `Position`.

What the state can stand for: the position on a symbol (amount, entry price, leverage),
exactly as positionRisk reports it. Not the balance: planning sizes from equity (wallet
plus unrealized PnL at the current mark) and `Balance` carries the available balance, and
an ACCOUNT_UPDATE tells neither exactly (its `up` is the PnL at the moment of the update,
and nothing in it is the available balance): the balance stays a REST read.
"""

import logging
from collections.abc import Awaitable, Callable, Iterable
from decimal import Decimal
from typing import Any, TypeVar

from mimic.adapters.ccxt.values import to_decimal, to_decimal_or
from mimic.domain.positions import Position, PositionSide
from mimic.ports.streamed_accounts import PositionReport, SymbolState

log = logging.getLogger(__name__)
T = TypeVar("T")


def position_reports(rows: Iterable[dict[str, Any]]) -> list[PositionReport]:
    """Every position row that was ever used (a row Binance never updated, `updateTime` 0,
    is flat: a seed leaves it out, and what a seed leaves out reads as flat)."""
    return [
        PositionReport(
            symbol=str(row["symbol"]),
            side=str(row.get("positionSide") or "BOTH"),
            amount=to_decimal(row["positionAmt"]),
            entry_price=to_decimal_or(row.get("entryPrice"), Decimal(0)),
            at_ms=int(row.get("updateTime") or 0),
        )
        for row in rows
        if int(row.get("updateTime") or 0) > 0 or to_decimal(row["positionAmt"]) != 0
    ]


def row_leverage(rows: Iterable[dict[str, Any]]) -> dict[str, int]:
    """The leverage of the symbols `position_reports` keeps."""
    used = {report.symbol for report in position_reports(rows)}
    return {
        str(row["symbol"]): int(row["leverage"])
        for row in rows
        if row.get("leverage") is not None and str(row["symbol"]) in used
    }


class Unknown(Exception):
    """The state cannot say: read by REST."""


def streamed_position(state: SymbolState | None) -> Position | None:
    """The one-way position the state reports (None: flat). Raises `Unknown` when it
    cannot say for sure: no usable state, hedge mode (positions are read by REST there, as
    both sides open is refused as it always was), or a position whose leverage is unknown."""
    if state is None:
        raise Unknown
    if any(report.side != "BOTH" for report in state.positions):
        raise Unknown
    report = next((r for r in state.positions if r.amount != 0), None)
    if report is None:
        return None
    if state.leverage is None:
        raise Unknown
    return Position(
        symbol=report.symbol,
        side=PositionSide.LONG if report.amount > 0 else PositionSide.SHORT,
        quantity=abs(report.amount),
        entry_price=report.entry_price,
        leverage=state.leverage,
    )


async def best_effort(what: str, call: Callable[[], Awaitable[T]]) -> T | None:
    """A call on the state store that must not fail what Mimic is doing (an order, a
    plan): when the store is away, planning reads by REST and the state expires."""
    try:
        return await call()
    except Exception:
        log.warning("streamed account state: %s failed", what, exc_info=True)
        return None


async def succeeded(what: str, call: Callable[[], Awaitable[None]]) -> bool:
    """`best_effort` for a call with no answer: whether it went through."""

    async def done() -> bool:
        await call()
        return True

    return await best_effort(what, done) is not None
