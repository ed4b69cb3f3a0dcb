"""The rules of ports.streamed_accounts over one account's fields, written once for every
store (memory, Redis): each operation changes a copy of the account's fields, and the
store writes what changed (Redis: in one optimistic transaction).

Fields of one account:

- `stream`: the connection that writes the state; `seeded`: its REST seed landed;
- `p:<symbol>:<side>`: `<exchange ms>|<signed amount>|<entry price>`;
- `l:<symbol>`: the leverage;
- `o:<symbol>:<token>`: one of Mimic's orders holding the symbol back: `f` in flight,
  `a<ms>:<token>` answered at that exchange time, `u:<token>` outcome unknown (the token
  taken when the answer was recorded: a REST read that took a later one began after it);
- `seq`: the last token handed out (orders and REST reads share it).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from mimic.ports.streamed_accounts import PositionReport, StreamedAccounts, SymbolState

Fields = dict[str, str]

_IN_FLIGHT = "f"
_UNKNOWN = "u"
_ANSWERED = "a"
_STATE_PREFIXES = ("p:", "l:")


@dataclass(slots=True)
class Change:
    """An operation's outcome: the account's fields after it, and its key's expiry."""

    fields: Fields
    expire: timedelta | None = None  # set the key's expiry to this
    expire_if_none: timedelta | None = None  # only if the key has no expiry (a new key)
    result: int = 0


def connected(fields: Fields, stream_id: str, ttl: timedelta) -> Change:
    kept = {k: v for k, v in fields.items() if k.startswith("o:") or k == "seq"}
    kept["stream"] = stream_id
    return Change(kept, expire=ttl)


def seeded(
    fields: Fields,
    stream_id: str,
    positions: Sequence[PositionReport],
    leverage: dict[str, int],
    rest_token: int,
) -> Change:
    if fields.get("stream") != stream_id:
        return Change(fields)
    fields = dict(fields)
    for report in positions:
        _merge(fields, report)
    for symbol, value in leverage.items():
        fields.setdefault(f"l:{symbol}", str(value))
    _clear_answered_before(fields, None, rest_token)
    fields["seeded"] = "1"
    return Change(fields)


def update(
    fields: Fields,
    stream_id: str,
    positions: Sequence[PositionReport],
    leverage: dict[str, int],
    ttl: timedelta,
) -> Change:
    if fields.get("stream") != stream_id:
        return Change(fields)
    fields = dict(fields)
    for report in positions:
        _merge(fields, report)
        # The stream has caught up with Mimic's answered orders on this symbol.
        for key, value in list(fields.items()):
            if (
                key.startswith(f"o:{report.symbol}:")
                and value.startswith(_ANSWERED)
                and int(value[1:].split(":")[0]) <= report.at_ms
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
    kept = {k: v for k, v in fields.items() if k.startswith("o:") or k == "seq"}
    return Change(kept)


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
    _clear_answered_before(fields, symbol, rest_token)
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
    )


def _merge(fields: Fields, report: PositionReport) -> None:
    """Keep the newest report of each position: an older one (by the exchange's time) that
    arrives later changes nothing."""
    key = f"p:{report.symbol}:{report.side}"
    old = fields.get(key)
    if old is not None and int(old.split("|", 1)[0]) > report.at_ms:
        return
    fields[key] = f"{report.at_ms}|{report.amount}|{report.entry_price}"


def _reported_ms(fields: Fields, symbol: str) -> int:
    """The exchange's time of the newest position report on `symbol` (-1: none)."""
    prefix = f"p:{symbol}:"
    times = [int(v.split("|", 1)[0]) for k, v in fields.items() if k.startswith(prefix)]
    return max(times, default=-1)


def _clear_answered_before(fields: Fields, symbol: str | None, token: int) -> None:
    """A REST read that began after these orders were answered has seen what they did; an
    order still in flight, or answered while the read was under way, keeps the symbol back."""
    prefix = "o:" if symbol is None else f"o:{symbol}:"
    for key, value in list(fields.items()):
        if key.startswith(prefix) and value != _IN_FLIGHT and int(value.split(":")[1]) < token:
            del fields[key]


def _next_token(fields: Fields) -> int:
    token = int(fields.get("seq", "0")) + 1
    fields["seq"] = str(token)
    return token


class FieldStore(StreamedAccounts):
    """The port on a store of each account's fields: a store gives `_apply` (run one rule
    on the account's fields, atomically) and `_load`."""

    def __init__(self, orphan_ttl: timedelta) -> None:
        """`orphan_ttl`: how long marks written to an account no stream writes (an order's,
        a REST read's) last: an account whose stream never comes leaves nothing behind."""
        self._orphan_ttl = orphan_ttl

    async def _apply(self, account_id: str, rule: Callable[[Fields], Change]) -> int:
        raise NotImplementedError

    async def _load(self, account_id: str) -> Fields:
        raise NotImplementedError

    async def connected(self, account_id: str, stream_id: str, ttl: timedelta) -> None:
        await self._apply(account_id, lambda f: connected(f, stream_id, ttl))

    async def seeded(
        self,
        account_id: str,
        stream_id: str,
        positions: Sequence[PositionReport],
        leverage: dict[str, int],
        rest_token: int,
    ) -> None:
        await self._apply(
            account_id, lambda f: seeded(f, stream_id, positions, leverage, rest_token)
        )

    async def update(
        self,
        account_id: str,
        stream_id: str,
        positions: Sequence[PositionReport],
        leverage: dict[str, int],
        ttl: timedelta,
    ) -> bool:
        rule = lambda f: update(f, stream_id, positions, leverage, ttl)  # noqa: E731
        return await self._apply(account_id, rule) == 1

    async def renew(self, account_id: str, stream_id: str, ttl: timedelta) -> bool:
        return await self._apply(account_id, lambda f: renew(f, stream_id, ttl)) == 1

    async def dropped(self, account_id: str, stream_id: str) -> None:
        await self._apply(account_id, lambda f: dropped(f, stream_id))

    async def order_sending(self, account_id: str, symbol: str) -> int:
        return await self._apply(account_id, lambda f: order_sending(f, symbol, self._orphan_ttl))

    async def order_answered(
        self, account_id: str, symbol: str, token: int, answered_ms: int | None
    ) -> None:
        await self._apply(
            account_id, lambda f: order_answered(f, symbol, token, answered_ms, self._orphan_ttl)
        )

    async def rest_token(self, account_id: str) -> int:
        return await self._apply(account_id, lambda f: rest_token(f, self._orphan_ttl))

    async def refreshed(
        self,
        account_id: str,
        symbol: str,
        positions: Sequence[PositionReport],
        leverage: int | None,
        rest_token: int,
    ) -> None:
        await self._apply(
            account_id, lambda f: refreshed(f, symbol, positions, leverage, rest_token)
        )

    async def read(self, account_id: str, symbol: str) -> SymbolState | None:
        return read(await self._load(account_id), symbol)
