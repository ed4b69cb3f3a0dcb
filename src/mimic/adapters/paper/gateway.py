"""ExchangeGateway for paper accounts: a thin view of one account on the shared venue."""

from collections.abc import Collection
from datetime import datetime, timedelta
from decimal import Decimal

from mimic.adapters.exchange_base import ExchangeGatewayBase
from mimic.adapters.paper.venue import PaperVenue
from mimic.domain.accounts import PAPER_EXCHANGE, AccountCheck, ExchangeAccount
from mimic.domain.errors import ExchangeUnavailable
from mimic.domain.market import MarketRules
from mimic.domain.orders import OrderFill, OrderRequest
from mimic.domain.performance import AccountFill
from mimic.domain.positions import Balance, Position, PositionSide
from mimic.ports.exchange import AccountSnapshot, ExchangeGateway, ExchangeGateways


class PaperGateway(ExchangeGatewayBase):
    def __init__(self, venue: PaperVenue, account_id: str) -> None:
        self._venue = venue
        self.account_id = account_id

    @property
    def receive_window(self) -> timedelta:
        """An order executes inside the request's transaction: nothing executes later."""
        return timedelta(0)

    @property
    def lookup_sees_every_order(self) -> bool:
        return True  # the venue keeps every order, and its lookup searches them all

    async def market_rules(self, symbol: str) -> MarketRules:
        return await self._venue.market_rules(symbol)

    async def fetch_mark_price(self, symbol: str) -> Decimal:
        return await self._venue.mark_price(symbol)

    async def fetch_balance(self) -> Balance:
        return await self._venue.balance(self.account_id)

    async def fetch_positions(self) -> list[Position]:
        return await self._venue.positions(self.account_id)

    async def fetch_position(self, symbol: str) -> Position | None:
        return await self._venue.position(self.account_id, symbol)

    async def fetch_snapshot(self, symbol: str, *, with_balance: bool) -> AccountSnapshot:
        # One batched read of the book answers all three, whether or not all are wanted.
        return await self._venue.snapshot(self.account_id, symbol)

    async def set_leverage(self, symbol: str, leverage: int) -> None:
        await self._venue.set_leverage(self.account_id, symbol, leverage)

    async def place_market_order(self, request: OrderRequest) -> OrderFill:
        return await self._venue.place_market_order(self.account_id, request)

    async def place_market_order_at_leverage(
        self, request: OrderRequest, leverage: int | None
    ) -> OrderFill:
        # One batched transaction instead of two.
        return await self._venue.place_market_order(self.account_id, request, leverage=leverage)

    async def check_account(self) -> AccountCheck:
        await self._venue.balance(self.account_id)  # raises AuthRejected when not open
        return AccountCheck(
            ok=True,
            detail="paper account ready",
            futures_enabled=True,
            can_trade=True,
            hedge_mode=False,
        )

    async def find_order(self, symbol: str, client_order_id: str) -> OrderFill | None:
        return await self._venue.find_order(self.account_id, symbol, client_order_id)

    async def place_protective_orders(
        self,
        symbol: str,
        position_side: PositionSide,
        stop_loss: Decimal | None,
        take_profit: Decimal | None,
        client_order_id_prefix: str,
    ) -> list[str]:
        """Kept in the venue's tables; they fire when the mark price crosses them."""
        return await self._venue.place_protective_orders(
            self.account_id,
            symbol,
            position_side,
            {"sl": stop_loss, "tp": take_profit},
            client_order_id_prefix,
        )

    async def cancel_protective_orders(self, symbol: str) -> None:
        await self._venue.cancel_protective_orders(self.account_id, symbol)

    async def fetch_fills(self, symbols: Collection[str], since: datetime) -> list[AccountFill]:
        return await self._venue.fills(self.account_id, since)


class PaperGateways(ExchangeGateways):
    """Gateways hold no connection of their own, so there is nothing to close."""

    def __init__(self, venue: PaperVenue) -> None:
        self._venue = venue
        self._gateways: dict[str, PaperGateway] = {}

    def supports(self, exchange: str) -> bool:
        return exchange == PAPER_EXCHANGE

    async def for_account(self, account: ExchangeAccount) -> ExchangeGateway:
        if not self.supports(account.exchange):
            raise ExchangeUnavailable(f"{account.exchange} is not served by the paper exchange")
        gateway = self._gateways.get(account.id)
        if gateway is None:
            gateway = self._gateways[account.id] = PaperGateway(self._venue, account.id)
        return gateway
