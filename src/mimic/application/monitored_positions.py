"""The position monitor's reader: what one round watches, read in as few calls as it can.

For every follower with trailing or DCA enabled (on an exchange with a price feed): the
positions Mimic opened (the latest filled entry per account and symbol) with the orders
placed for them since, the latest prices of their symbols, and each account's open
positions (read concurrently, with a bound per exchange).
"""

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from mimic.application.exchange_concurrency import ExchangeConcurrency
from mimic.domain.accounts import ExchangeAccount, User
from mimic.domain.errors import ExchangeError
from mimic.domain.orders import OrderIntent, OrderSide
from mimic.domain.positions import Position, PositionSide
from mimic.ports.exchange import ExchangeGateway, ExchangeGateways
from mimic.ports.protection import PositionIntentRepository, PriceFeeds
from mimic.ports.repositories import ExchangeAccountRepository, TransactionManager

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Account:
    account: ExchangeAccount
    user: User
    gateway: ExchangeGateway | None = None
    positions: dict[str, Position] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class WatchedPosition:
    """A position Mimic opened (`entry`), as this round sees it."""

    entry: OrderIntent
    children: list[OrderIntent]  # the orders placed for it since (trailing, DCA, TP/SL)
    user: User
    # None when the account's positions could not be read this round.
    gateway: ExchangeGateway | None
    # The open position on the entry's symbol and side; None when it is gone.
    position: Position | None
    price: Decimal | None  # the latest price of its symbol; None when the feed had none


class PositionReader:
    def __init__(
        self,
        accounts: ExchangeAccountRepository,
        position_intents: PositionIntentRepository,
        gateways: ExchangeGateways,
        feeds: PriceFeeds,
        tx: TransactionManager,
        concurrency: int,
    ) -> None:
        self._accounts = accounts
        self._position_intents = position_intents
        self._gateways = gateways
        self._feeds = feeds
        self._tx = tx
        self._concurrency = concurrency

    async def read(self) -> list[WatchedPosition]:
        watched = {
            account.id: _Account(account, user)
            for account, user in await self._accounts.list_copy_candidates(monitored_only=True)
            if self._feeds.for_exchange(account.exchange) is not None
        }
        if not watched:
            return []
        entries = await self._position_intents.latest_entries(list(watched))
        children: dict[str, list[OrderIntent]] = defaultdict(list)
        for child in await self._position_intents.children([e.id for e in entries]):
            if child.parent_id is not None:
                children[child.parent_id].append(child)
        await self._tx.commit()  # no transaction stays open across exchange calls
        prices = await self._prices(entries, watched)
        await self._read_positions({e.account_id for e in entries}, watched)
        found = []
        for entry in entries:
            item = watched[entry.account_id]
            side = PositionSide.LONG if entry.side is OrderSide.BUY else PositionSide.SHORT
            position = item.positions.get(entry.symbol)
            found.append(
                WatchedPosition(
                    entry,
                    children[entry.id],
                    item.user,
                    item.gateway,
                    position if position is not None and position.side is side else None,
                    prices.get((item.account.exchange, entry.symbol)),
                )
            )
        return found

    async def _prices(
        self, entries: Sequence[OrderIntent], watched: dict[str, _Account]
    ) -> dict[tuple[str, str], Decimal]:
        symbols: dict[str, set[str]] = defaultdict(set)
        for entry in entries:
            symbols[watched[entry.account_id].account.exchange].add(entry.symbol)
        prices: dict[tuple[str, str], Decimal] = {}
        for exchange, wanted in symbols.items():
            feed = self._feeds.for_exchange(exchange)
            if feed is None:
                continue
            try:
                await feed.subscribe(wanted)
                latest = await feed.latest(wanted)
            except ExchangeError as exc:
                log.warning("no %s prices this round: %s", exchange, exc.reason)
                continue
            prices.update(((exchange, s), p) for s, p in latest.items())
        return prices

    async def _read_positions(self, account_ids: set[str], watched: dict[str, _Account]) -> None:
        async def read(item: _Account) -> None:
            try:
                gateway = await self._gateways.for_account(item.account)
                positions = await gateway.fetch_positions()
            except ExchangeError as exc:
                log.warning("positions of %s not read: %s", item.account.id, exc.reason)
                return
            item.gateway = gateway
            item.positions = {p.symbol: p for p in positions}

        await ExchangeConcurrency(self._concurrency).run(
            [watched[a] for a in sorted(account_ids)], lambda item: item.account.exchange, read
        )
