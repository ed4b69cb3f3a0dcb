"""What protects each open position of a follower: TP/SL on the exchange, trailing stop, DCA."""

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from mimic.application.portfolio import AccountPositions
from mimic.domain.accounts import ConnectionStatus, ExchangeAccount, User
from mimic.domain.errors import ExchangeError
from mimic.domain.orders import IntentStatus, OrderIntent, OrderLeg, OrderSide
from mimic.domain.positions import Position, PositionSide
from mimic.domain.trailing import TrailingParams, TrailingState
from mimic.ports.exchange import ExchangeGateways
from mimic.ports.protection import PositionIntentRepository, TrailingStateStore
from mimic.ports.repositories import ExchangeAccountRepository


@dataclass(frozen=True, slots=True)
class PositionProtectionStatus:
    account: ExchangeAccount
    position: Position
    entry_order_id: str
    stop_loss: Decimal | None
    take_profit: Decimal | None
    protection_error: str | None
    trailing_enabled: bool
    trailing_activation_price: Decimal | None
    trailing_stop: Decimal | None  # None until activated
    trailing_best_price: Decimal | None
    dca_enabled: bool
    dca_adds: int


class ViewProtection:
    def __init__(
        self,
        accounts: ExchangeAccountRepository,
        position_intents: PositionIntentRepository,
        gateways: ExchangeGateways,
        trailing: TrailingStateStore,
    ) -> None:
        self._accounts = accounts
        self._position_intents = position_intents
        self._gateways = gateways
        self._trailing = trailing

    async def __call__(self, user: User) -> list[PositionProtectionStatus]:
        accounts = {
            a.id: a
            for a in await self._accounts.list_for_user(user.id)
            if a.status is ConnectionStatus.APPROVED
        }
        positions = await self._positions(list(accounts.values()))
        return await self._protecting(user, accounts, positions)

    async def of_positions(
        self, user: User, held: Sequence[AccountPositions]
    ) -> list[PositionProtectionStatus]:
        """The same, for positions the caller has just read (ViewPortfolio.holdings)."""
        accounts = {h.account.id: h.account for h in held}
        positions = {(h.account.id, p.symbol): p for h in held for p in h.positions}
        return await self._protecting(user, accounts, positions)

    async def _protecting(
        self,
        user: User,
        accounts: dict[str, ExchangeAccount],
        positions: dict[tuple[str, str], Position],
    ) -> list[PositionProtectionStatus]:
        entries = await self._position_intents.latest_entries_of(list(positions))
        children = await self._position_intents.children([e.id for e in entries])
        found = []
        for entry in entries:
            side = PositionSide.LONG if entry.side is OrderSide.BUY else PositionSide.SHORT
            position = positions.get((entry.account_id, entry.symbol))
            if position is None or position.side is not side:
                continue
            found.append(
                await self._status(user, accounts[entry.account_id], entry, position, children)
            )
        return found

    async def _positions(self, accounts: list[ExchangeAccount]) -> dict[tuple[str, str], Position]:
        async def read(account: ExchangeAccount) -> list[Position]:
            try:
                gateway = await self._gateways.for_account(account)
                return await gateway.fetch_positions()
            except ExchangeError:
                return []  # GET /api/positions reports the error; nothing to show here

        lists = await asyncio.gather(*(read(a) for a in accounts))
        return {(a.id, p.symbol): p for a, held in zip(accounts, lists, strict=True) for p in held}

    async def _status(
        self,
        user: User,
        account: ExchangeAccount,
        entry: OrderIntent,
        position: Position,
        children: list[OrderIntent],
    ) -> PositionProtectionStatus:
        trailing = user.protection.trailing
        state = await self._trailing.load(entry.id)
        activation = None
        if trailing.enabled and trailing.activation_perc and trailing.callback_perc:
            params = TrailingParams(trailing.activation_perc, trailing.callback_perc)
            current = state or TrailingState(position.side, position.entry_price)
            activation = current.with_entry(position.entry_price).activation_price(params)
        adds = sum(
            1
            for c in children
            if c.parent_id == entry.id and c.leg is OrderLeg.DCA and c.status is IntentStatus.FILLED
        )
        return PositionProtectionStatus(
            account=account,
            position=position,
            entry_order_id=entry.id,
            stop_loss=entry.stop_loss_price,
            take_profit=entry.take_profit_price,
            protection_error=entry.protection_error,
            trailing_enabled=trailing.enabled,
            trailing_activation_price=activation,
            trailing_stop=None if state is None else state.stop_price,
            trailing_best_price=None if state is None else state.best_price,
            dca_enabled=user.protection.dca.enabled,
            dca_adds=adds,
        )
