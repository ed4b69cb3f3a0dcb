"""Closed trades, balance history and the public leaderboard, from what the sync stored."""

import enum
from collections import OrderedDict, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from mimic.domain.errors import InvalidField
from mimic.domain.guardrails import GuardrailDay, guardrail_trip_key, utc_day
from mimic.domain.orders import OrderIntent
from mimic.domain.performance import (
    BalanceSnapshot,
    ClosedTrade,
    Standing,
    TradeFilters,
    closed_trades,
    standing,
)
from mimic.ports.performance import BalanceSnapshotRepository, FillRepository, GuardrailRepository
from mimic.ports.repositories import (
    ExchangeAccountRepository,
    SignalSourceRepository,
    UserRepository,
)
from mimic.ports.services import Clock

MAX_HISTORY = 5000
NO_TRADE_FILTERS = TradeFilters()
TRADE_CACHE_FOLLOWERS = 64
_USERS_PAGE = 500


class Period(enum.StrEnum):
    WEEK = "7d"
    MONTH = "30d"
    ALL = "all"

    @classmethod
    def parse(cls, raw: str) -> "Period":
        try:
            return cls(raw)
        except ValueError:
            raise InvalidField("period", "must be 7d, 30d or all") from None

    def since(self, now: datetime) -> datetime | None:
        days = {Period.WEEK: 7, Period.MONTH: 30}.get(self)
        return None if days is None else now - timedelta(days=days)


class TradeCache:
    """Each recent follower's closed trades with the fill count they were built from.

    Rebuilding trades reads every fill the follower has; fills are only ever added, so
    while the count stays the same the trades do too. One per process, the followers seen
    last kept (a list of frozen trades each, shared by the requests that read it)."""

    def __init__(self) -> None:
        self._built: OrderedDict[str, tuple[int, list[ClosedTrade]]] = OrderedDict()

    def get(self, user_id: str, fill_count: int) -> list[ClosedTrade] | None:
        built = self._built.get(user_id)
        if built is None or built[0] != fill_count:
            return None
        self._built.move_to_end(user_id)
        return built[1]

    def put(self, user_id: str, fill_count: int, trades: list[ClosedTrade]) -> None:
        self._built[user_id] = (fill_count, trades)
        self._built.move_to_end(user_id)
        while len(self._built) > TRADE_CACHE_FOLLOWERS:
            self._built.popitem(last=False)


@dataclass(frozen=True, slots=True)
class TradePage:
    trades: list[ClosedTrade]
    has_more: bool


@dataclass(frozen=True, slots=True)
class GuardrailStatus:
    account_id: str
    day: date
    stored: GuardrailDay | None  # None: not observed yet today
    closes: list[OrderIntent]


class ViewPerformance:
    def __init__(
        self,
        users: UserRepository,
        accounts: ExchangeAccountRepository,
        fills: FillRepository,
        snapshots: BalanceSnapshotRepository,
        guardrail_days: GuardrailRepository,
        clock: Clock,
        trade_cache: TradeCache,
        sources: SignalSourceRepository,
    ) -> None:
        self._trade_cache = trade_cache
        self._sources = sources
        self._users = users
        self._accounts = accounts
        self._fills = fills
        self._snapshots = snapshots
        self._guardrail_days = guardrail_days
        self._clock = clock

    async def trades(
        self, user_id: str, *, limit: int, filters: TradeFilters = NO_TRADE_FILTERS
    ) -> list[ClosedTrade]:
        """The follower's closed trades, newest first (a deleted connection's too)."""
        await self._check_source(filters.source_id)
        return (await self._all_trades(user_id, filters))[:limit]

    async def trade_page(
        self, user_id: str, filters: TradeFilters, *, offset: int, limit: int
    ) -> TradePage:
        """One page of the follower's trade history, newest first."""
        if offset < 0:
            raise InvalidField("offset", "must not be negative")
        await self._check_source(filters.source_id)
        trades = await self._all_trades(user_id, filters)
        return TradePage(trades[offset : offset + limit], has_more=len(trades) > offset + limit)

    async def _all_trades(self, user_id: str, filters: TradeFilters) -> list[ClosedTrade]:
        # Counted before reading: a fill added in between only makes the next read rebuild.
        fill_count = await self._fills.count_for_user(user_id)
        trades = self._trade_cache.get(user_id, fill_count)
        if trades is None:
            by_account = (await self._fills.for_users([user_id])).get(user_id, {})
            trades = [t for a, fills in by_account.items() for t in closed_trades(a, fills)]
            trades.sort(key=lambda t: (t.closed_at, t.account_id, t.symbol), reverse=True)
            self._trade_cache.put(user_id, fill_count, trades)
        return [t for t in trades if filters.admits(t)]

    async def balance_history(
        self, user_id: str, *, since: datetime | None, limit: int
    ) -> list[BalanceSnapshot]:
        if since is not None and since.tzinfo is None:
            raise InvalidField("since", "must carry a timezone, e.g. 2024-05-01T00:00:00Z")
        if not 1 <= limit <= MAX_HISTORY:
            raise InvalidField("limit", f"must be from 1 to {MAX_HISTORY}")
        accounts = await self._accounts.list_for_user(user_id)
        return await self._snapshots.history([a.id for a in accounts], since=since, limit=limit)

    async def guardrails(self, user_id: str) -> list[GuardrailStatus]:
        """Today's guardrail day of each of the follower's accounts, with today's close-all
        orders."""
        accounts = await self._accounts.list_for_user(user_id)
        today = utc_day(self._clock.now())
        days = await self._guardrail_days.days([a.id for a in accounts], today)
        closes: dict[str, list[OrderIntent]] = defaultdict(list)
        for close in await self._guardrail_days.closes_for_user(user_id, limit=200):
            if close.signal_id == guardrail_trip_key(today):
                closes[close.account_id].append(close)
        return [GuardrailStatus(a.id, today, days.get(a.id), closes[a.id]) for a in accounts]

    async def source_names(self) -> dict[str, str]:
        """Each signal source's name, by id: what a trade's source is called."""
        return {s.id: s.name for s in await self._sources.list_all()}

    async def leaderboard(self, period: Period, source_id: str | None = None) -> list[Standing]:
        """Every follower who did not opt out and has history in the period, best ROI first.

        With `source_id`: only the trades that source's signals opened count, and only
        followers with such a trade are listed; ROI stays relative to the follower's whole
        equity and the drawdown is the whole equity's, as sources share one account."""
        await self._check_source(source_id)
        since = period.since(self._clock.now())
        listed = {}
        offset = 0
        while page := await self._users.list(offset=offset, limit=_USERS_PAGE):
            listed.update(
                {u.id: u.username for u in page if u.active and not u.leaderboard_opt_out}
            )
            offset += len(page)
        fills = await self._fills.for_users(listed)
        snapshots = await self._snapshots.for_users(listed, since=since)
        standings = []
        for user_id, username in listed.items():
            trades = [
                t
                for account_id, account_fills in fills.get(user_id, {}).items()
                for t in closed_trades(account_id, account_fills)
                if (since is None or t.closed_at >= since)
                and (source_id is None or t.source_id == source_id)
            ]
            equities = _hourly_equity(snapshots.get(user_id, []))
            if trades or (equities and source_id is None):
                standings.append(standing(username, trades, equities))
        standings.sort(key=lambda s: (-s.roi_perc, -s.pnl, s.username))
        return standings

    async def _check_source(self, source_id: str | None) -> None:
        if source_id is not None and await self._sources.get(source_id) is None:
            raise InvalidField("source", f"no signal source {source_id!r}")


def _hourly_equity(snapshots: list[BalanceSnapshot]) -> list[Decimal]:
    """The follower's equity hour by hour: the sum over their accounts' snapshots."""
    by_hour: dict[datetime, Decimal] = defaultdict(Decimal)
    for snapshot in snapshots:
        by_hour[snapshot.hour] += snapshot.equity
    return [by_hour[hour] for hour in sorted(by_hour)]
