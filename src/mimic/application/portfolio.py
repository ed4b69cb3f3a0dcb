"""What a follower holds: positions and balances read live from each exchange, orders."""

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from mimic.domain.accounts import ConnectionStatus, ExchangeAccount
from mimic.domain.errors import ExchangeError
from mimic.domain.orders import OrderFilters, OrderIntent
from mimic.domain.positions import Balance, Position
from mimic.ports.exchange import ExchangeGateways
from mimic.ports.panic import PanicCloseRepository
from mimic.ports.repositories import (
    ExchangeAccountRepository,
    OrderIntentRepository,
    SignalRepository,
)


@dataclass(frozen=True, slots=True)
class AccountPositions:
    account: ExchangeAccount
    positions: list[Position]
    error: str | None = None


@dataclass(frozen=True, slots=True)
class AccountBalance:
    account: ExchangeAccount
    balance: Balance | None
    error: str | None = None


class ViewPortfolio:
    def __init__(
        self,
        accounts: ExchangeAccountRepository,
        intents: OrderIntentRepository,
        gateways: ExchangeGateways,
        panic_closes: PanicCloseRepository,
        signals: SignalRepository,
    ) -> None:
        self._signals = signals
        self._accounts = accounts
        self._intents = intents
        self._gateways = gateways
        self._panic_closes = panic_closes

    async def _approved(self, user_id: str) -> list[ExchangeAccount]:
        return [
            a
            for a in await self._accounts.list_for_user(user_id)
            if a.status is ConnectionStatus.APPROVED
        ]

    async def positions(self, user_id: str) -> list[AccountPositions]:
        async def read(account: ExchangeAccount) -> AccountPositions:
            try:
                gateway = await self._gateways.for_account(account)
                return AccountPositions(account, await gateway.fetch_positions())
            except ExchangeError as exc:
                return AccountPositions(account, [], error=exc.reason)

        return list(await asyncio.gather(*(read(a) for a in await self._approved(user_id))))

    async def balances(self, user_id: str) -> list[AccountBalance]:
        async def read(account: ExchangeAccount) -> AccountBalance:
            try:
                gateway = await self._gateways.for_account(account)
                return AccountBalance(account, await gateway.fetch_balance())
            except ExchangeError as exc:
                return AccountBalance(account, None, error=exc.reason)

        return list(await asyncio.gather(*(read(a) for a in await self._approved(user_id))))

    async def holdings(self, user_id: str) -> tuple[list[AccountBalance], list[AccountPositions]]:
        """Balances and positions at once: every account's two reads are in flight together
        (a page that shows both waits for one exchange round trip, not two)."""
        accounts = await self._approved(user_id)

        async def read(account: ExchangeAccount) -> tuple[AccountBalance, AccountPositions]:
            try:
                gateway = await self._gateways.for_account(account)
            except ExchangeError as exc:
                return (
                    AccountBalance(account, None, error=exc.reason),
                    AccountPositions(account, [], error=exc.reason),
                )
            balance, positions = await asyncio.gather(
                gateway.fetch_balance(), gateway.fetch_positions(), return_exceptions=True
            )
            return (
                _balance_or_error(account, balance),
                _positions_or_error(account, positions),
            )

        both = await asyncio.gather(*(read(a) for a in accounts))
        return [b for b, _ in both], [p for _, p in both]

    async def orders(
        self, user_id: str, limit: int = 200, source_id: str | None = None
    ) -> list[OrderIntent]:
        """Newest first: the orders of signals and those of panic runs; with `source_id`,
        only the orders of that source's signals."""
        filters = OrderFilters(source_id=source_id)
        orders = await self._intents.list_for_user(user_id, limit=limit, filters=filters)
        orders += await self._panic_closes.list_for_user(user_id, limit=limit, filters=filters)
        orders.sort(key=lambda o: (o.created_at, o.id), reverse=True)
        return orders[:limit]

    async def order_sources(self, orders: Sequence[OrderIntent]) -> dict[str, str]:
        """The source of each order's signal, by signal id (a panic close has none)."""
        return await self._signals.source_ids({o.signal_id for o in orders if o.signal_id})


def _balance_or_error(account: ExchangeAccount, read: Balance | BaseException) -> AccountBalance:
    if isinstance(read, ExchangeError):
        return AccountBalance(account, None, error=read.reason)
    if isinstance(read, BaseException):
        raise read
    return AccountBalance(account, read)


def _positions_or_error(
    account: ExchangeAccount, read: list[Position] | BaseException
) -> AccountPositions:
    if isinstance(read, ExchangeError):
        return AccountPositions(account, [], error=read.reason)
    if isinstance(read, BaseException):
        raise read
    return AccountPositions(account, read)
