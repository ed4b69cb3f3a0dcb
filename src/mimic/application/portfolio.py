"""What a follower holds: positions and balances read live from each exchange, orders."""

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from mimic.domain.accounts import ConnectionStatus, ExchangeAccount
from mimic.domain.errors import ExchangeError
from mimic.domain.orders import OrderIntent
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

    async def orders(self, user_id: str, limit: int = 200) -> list[OrderIntent]:
        """Newest first: the orders of signals and those of panic runs."""
        orders = await self._intents.list_for_user(user_id, limit=limit)
        orders += await self._panic_closes.list_for_user(user_id, limit=limit)
        orders.sort(key=lambda o: (o.created_at, o.id), reverse=True)
        return orders[:limit]

    async def order_sources(self, orders: Sequence[OrderIntent]) -> dict[str, str]:
        """The source of each order's signal, by signal id (a panic close has none)."""
        return await self._signals.source_ids({o.signal_id for o in orders if o.signal_id})
