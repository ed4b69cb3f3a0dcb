"""The rules of ports.streamed_accounts over one account's fields, written once for every
store (memory, Redis): each operation changes a copy of the account's fields, and the
store (adapters/streamed_store.py) writes what changed (Redis: in one optimistic
transaction).

Fields of one account:

- `stream`: the connection that writes the state; `seeded`: its REST seed landed;
- `p:<symbol>:<side>`: `<exchange ms>|<signed amount>|<entry price>`;
- `l:<symbol>`: the leverage;
- `b:<asset>`: `<exchange ms>|<wallet balance>` (a seed that read the wallets writes them all);
- `o:<symbol>:<token>`: one of Mimic's orders holding the symbol back: `f` in flight,
  `a<ms>:<token>` answered at that exchange time, `u:<token>` outcome unknown (the token
  taken when the answer was recorded: a REST read that took a later one began after it);
- `w:<token>`: the same, for an order a REST position read cleared from its symbol: it
  holds the wallets back until the stream reports one at or after its answer, or a REST
  wallet read began after it;
- `seq`: the last token handed out (orders and REST reads share it).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from mimic.ports.streamed_accounts import (
    PositionReport,
    SymbolState,
    WalletReport,
)

Fields = dict[str, str]

_IN_FLIGHT = "f"
_UNKNOWN = "u"
_ANSWERED = "a"
# Mimic's orders' marks: they outlive a connection, and any of them holds the wallets back.
_ORDER_MARKS = ("o:", "w:")


@dataclass(slots=True)
class Change:
    """An operation's outcome: the account's fields after it, and its key's expiry."""

    fields: Fields
    expire: timedelta | None = None  # set the key's expiry to this
    expire_if_none: timedelta | None = None  # only if the key has no expiry (a new key)
    result: int = 0


def connected(fields: Fields, stream_id: str, ttl: timedelta) -> Change:
    kept = _kept(fields)
    kept["stream"] = stream_id
    return Change(kept, expire=ttl)


def seeded(
    fields: Fields,
    stream_id: str,
    positions: Sequence[PositionReport],
    leverage: dict[str, int],
    rest_token: int,
    wallets: Sequence[WalletReport],
) -> Change:
    if fields.get("stream") != stream_id:
        return Change(fields)
    fields = dict(fields)
    for report in positions:
        _merge(fields, report)
    for symbol, value in leverage.items():
        fields.setdefault(f"l:{symbol}", str(value))
    for wallet in wallets:
        _merge_wallet(fields, wallet)
    _release_symbol(fields, "o:", rest_token)
    if wallets:
        for key in _answered_before(fields, "w:", rest_token):
            del fields[key]
    fields["seeded"] = "1"
    return Change(fields)


def update(
    fields: Fields,
    stream_id: str,
    positions: Sequence[PositionReport],
    leverage: dict[str, int],
    ttl: timedelta,
    wallets: Sequence[WalletReport],
) -> Change:
    if fields.get("stream") != stream_id:
        return Change(fields)
    fields = dict(fields)
    for wallet in wallets:
        _merge_wallet(fields, wallet)
        # The stream has told the wallet changes of the orders answered until then.
        for key, value in list(fields.items()):
            if key.startswith("w:") and _answered_at_or_before(value, wallet.at_ms):
                del fields[key]
    for report in positions:
        _merge(fields, report)
        # The stream has caught up with Mimic's answered orders on this symbol.
        for key, value in list(fields.items()):
            if key.startswith(f"o:{report.symbol}:") and _answered_at_or_before(
                value, report.at_ms
            ):
                del fields[key]
    for symbol, set_to in leverage.items():
        fields[f"l:{symbol}"] = str(set_to)
    return Change(fields, expire=ttl, result=1)


def renew(fields: Fields, stream_id: str, ttl: timedelta) -> Change:
    if fields.get("stream") != stream_id:
        return Change(fields)
    return Change(fields, expire=ttl, result=1)


def dropped(fields: Fields, stream_id: str) -> Change:
    if fields.get("stream") != stream_id:
        return Change(fields)
    return Change(_kept(fields))


def order_sending(fields: Fields, symbol: str, ttl: timedelta) -> Change:
    fields = dict(fields)
    token = _next_token(fields)
    fields[f"o:{symbol}:{token}"] = _IN_FLIGHT
    return Change(fields, expire_if_none=ttl, result=token)


def order_answered(
    fields: Fields, symbol: str, token: int, answered_ms: int | None, ttl: timedelta
) -> Change:
    fields = dict(fields)
    key = f"o:{symbol}:{token}"
    if answered_ms is not None and _reported_ms(fields, symbol) >= answered_ms:
        # Binance often tells the stream before it answers the order: already caught up.
        fields.pop(key, None)
        return Change(fields)
    answer = _UNKNOWN if answered_ms is None else f"{_ANSWERED}{answered_ms}"
    fields[key] = f"{answer}:{_next_token(fields)}"
    return Change(fields, expire_if_none=ttl)


@dataclass(frozen=True, slots=True)
class LateOrder:
    """What the store could not be told of one of Mimic's orders when it happened (the
    order went out anyway): its sending (`token` None) and, once `answered`, its answer."""

    symbol: str
    token: int | None
    answered: bool
    answered_ms: int | None


def late_orders(
    fields: Fields, orders: Sequence[LateOrder], ttl: timedelta
) -> tuple[Change, list[int]]:
    """Each order's marks, written late, in the order they happened: the change, and each
    order's token (the one it had, or the one its sending took now)."""
    tokens = []
    for order in orders:
        token = order.token
        if token is None:
            sending = order_sending(fields, order.symbol, ttl)
            fields, token = sending.fields, sending.result
        if order.answered:
            answer = order_answered(fields, order.symbol, token, order.answered_ms, ttl)
            fields = answer.fields
        tokens.append(token)
    return Change(dict(fields), expire_if_none=ttl), tokens


def rest_token(fields: Fields, ttl: timedelta) -> Change:
    fields = dict(fields)
    return Change(fields, expire_if_none=ttl, result=_next_token(fields))


def refreshed(
    fields: Fields,
    symbol: str,
    positions: Sequence[PositionReport],
    leverage: int | None,
    rest_token: int,
) -> Change:
    fields = dict(fields)
    if "stream" in fields:
        for report in positions:
            if report.symbol == symbol:
                _merge(fields, report)
        if leverage is not None:
            fields.setdefault(f"l:{symbol}", str(leverage))
    _release_symbol(fields, f"o:{symbol}:", rest_token)
    return Change(fields)


def wallets_refreshed(fields: Fields, wallets: Sequence[WalletReport], rest_token: int) -> Change:
    fields = dict(fields)
    if "stream" in fields:
        for wallet in wallets:
            _merge_wallet(fields, wallet)
    for key in _answered_before(fields, "w:", rest_token):
        del fields[key]
    return Change(fields)


def read(fields: Fields, symbol: str) -> SymbolState | None:
    if "stream" not in fields or "seeded" not in fields:
        return None
    if any(key.startswith(f"o:{symbol}:") for key in fields):
        return None
    positions = []
    prefix = f"p:{symbol}:"
    for key, value in fields.items():
        if key.startswith(prefix):
            at_ms, amount, entry = value.split("|")
            positions.append(
                PositionReport(
                    symbol, key[len(prefix) :], Decimal(amount), Decimal(entry), int(at_ms)
                )
            )
    leverage = fields.get(f"l:{symbol}")
    return SymbolState(
        tuple(sorted(positions, key=lambda p: p.side)),
        None if leverage is None else int(leverage),
        _flat_wallets(fields),
    )


def _flat_wallets(fields: Fields) -> dict[str, Decimal] | None:
    """Every wallet, if the account holds no position on any symbol and nothing of Mimic's
    is pending: no order in flight or unreported anywhere (its fill's fee and realized PnL
    change the wallet), none whose wallet change is not told yet."""
    wallets: dict[str, Decimal] = {}
    for key, value in fields.items():
        if key.startswith(_ORDER_MARKS):
            return None
        if key.startswith("p:") and Decimal(value.split("|")[1]) != 0:
            return None
        if key.startswith("b:"):
            wallets[key[2:]] = Decimal(value.split("|")[1])
    return wallets or None


def _merge(fields: Fields, report: PositionReport) -> None:
    key = f"p:{report.symbol}:{report.side}"
    _keep_newest(fields, key, report.at_ms, f"{report.amount}|{report.entry_price}")


def _merge_wallet(fields: Fields, report: WalletReport) -> None:
    _keep_newest(fields, f"b:{report.asset}", report.at_ms, str(report.wallet))


def _keep_newest(fields: Fields, key: str, at_ms: int, value: str) -> None:
    """Keep the newest report of each position or wallet: an older one (by the exchange's
    time) that arrives later changes nothing."""
    old = fields.get(key)
    if old is not None and int(old.split("|", 1)[0]) > at_ms:
        return
    fields[key] = f"{at_ms}|{value}"


def _answered_at_or_before(mark: str, at_ms: int) -> bool:
    """Whether an order's mark says it was answered at or before `at_ms` (exchange time)."""
    return mark.startswith(_ANSWERED) and int(mark[1:].split(":")[0]) <= at_ms


def _kept(fields: Fields) -> Fields:
    return {k: v for k, v in fields.items() if k.startswith(_ORDER_MARKS) or k == "seq"}


def _reported_ms(fields: Fields, symbol: str) -> int:
    """The exchange's time of the newest position report on `symbol` (-1: none)."""
    prefix = f"p:{symbol}:"
    times = [int(v.split("|", 1)[0]) for k, v in fields.items() if k.startswith(prefix)]
    return max(times, default=-1)


def _answered_before(fields: Fields, prefix: str, token: int) -> list[str]:
    """The marks (keys under `prefix`) of orders answered before a REST read that took
    `token` began: it has seen what they did. An order still in flight, or answered while
    the read was under way, is not among them."""
    return [
        key
        for key, value in fields.items()
        if key.startswith(prefix) and value != _IN_FLIGHT and int(value.split(":")[1]) < token
    ]


def _release_symbol(fields: Fields, prefix: str, token: int) -> None:
    """A REST read of positions saw these orders' fills, not their wallet changes: each
    now holds the wallets back only."""
    for key in _answered_before(fields, prefix, token):
        fields[f"w:{key.rsplit(':', 1)[1]}"] = fields.pop(key)


def _next_token(fields: Fields) -> int:
    token = int(fields.get("seq", "0")) + 1
    fields["seq"] = str(token)
    return token
