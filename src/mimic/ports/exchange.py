from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Protocol

from mimic.domain.accounts import AccountCheck, ApiCredentials, ExchangeAccount
from mimic.domain.market import MarketRules
from mimic.domain.orders import OrderFill, OrderRequest
from mimic.domain.performance import AccountFill
from mimic.domain.positions import Balance, Position, PositionSide


@dataclass(frozen=True, slots=True)
class AccountSnapshot:
    """What planning an order reads of one account: its position and, to size an entry,
    its equity (wallet balance + unrealized PnL, in the settlement currency) and the
    symbol's mark price."""

    position: Position | None
    equity: Decimal | None = None
    mark_price: Decimal | None = None


class ExchangeGateway(Protocol):
    """One follower account on one exchange. Every failure is a domain `ExchangeError`.

    Behaviour that venues share (reading one after the other, leverage then order) is in
    adapters.exchange_base.ExchangeGatewayBase, not here: a wrapper that implements this
    port must pass every member on, and the type checker says which one it forgot.
    """

    @property
    def receive_window(self) -> timedelta:
        """How long after an order's answer was lost the order may still execute.

        Binance accepts a request until its recvWindow has passed since it was signed,
        and a -1007 means the matching engine may still act on it: absence is proven
        only by lookups spread over this window (see application.order_sender).
        """
        ...

    async def market_rules(self, symbol: str) -> MarketRules: ...

    async def fetch_mark_price(self, symbol: str) -> Decimal: ...

    async def fetch_balance(self) -> Balance: ...

    async def fetch_positions(self) -> list[Position]: ...

    async def fetch_position(self, symbol: str) -> Position | None: ...

    async def fetch_snapshot(self, symbol: str, *, with_balance: bool) -> AccountSnapshot:
        """The position on `symbol`; `with_balance`, also the balance and the mark price."""
        ...

    async def set_leverage(self, symbol: str, leverage: int) -> None: ...

    async def place_market_order(self, request: OrderRequest) -> OrderFill:
        """Raises `OutcomeUnknown` when the order may or may not exist."""
        ...

    async def place_market_order_at_leverage(
        self, request: OrderRequest, leverage: int | None
    ) -> OrderFill:
        """Set the symbol's leverage (unless None), then place the order."""
        ...

    async def find_order(self, symbol: str, client_order_id: str) -> OrderFill | None:
        """The executed order with this client id, or None when the exchange proves absence."""
        ...

    @property
    def lookup_sees_every_order(self) -> bool:
        """Whether `find_order` answers from every order the account sent with that client
        id (then a search of recent orders could add nothing). Not on Binance, where a
        client id is unique among open orders only."""
        ...

    async def find_recent_order(self, symbol: str, client_order_id: str) -> OrderFill | None:
        """The executed order with this client id among the account's recent orders on
        `symbol`, not only the one the exchange would answer a lookup by client id with
        (Binance keeps client ids unique among open orders only).
        """
        ...

    async def check_account(self) -> AccountCheck:
        """Validate the connection: credentials, permissions, futures, position mode."""
        ...

    async def place_protective_orders(
        self,
        symbol: str,
        position_side: PositionSide,
        stop_loss: Decimal | None,
        take_profit: Decimal | None,
        client_order_id_prefix: str,
    ) -> list[str]:
        """Native stop-loss / take-profit orders for the open position on `position_side`.

        Each one closes the whole position when the mark price reaches its trigger. Their
        client order ids are the prefix (at most 34 characters) + "sl" / "tp"; returns the
        exchange's ids of the orders placed. Orders placed before a failure stay.
        """
        ...

    async def cancel_protective_orders(self, symbol: str) -> None:
        """Cancel Mimic's remaining stop-loss / take-profit orders on `symbol`; idempotent."""
        ...

    async def fetch_fills(self, symbols: Collection[str], since: datetime) -> list[AccountFill]:
        """The account's executions at or after `since`, with realized PnL and fee.

        At least those of `symbols` (some exchanges list fills per symbol only); an exchange
        that lists every symbol at once may return more. Every fill has a stable id.
        """
        ...


class ExchangeGateways(Protocol):
    """Hands out gateways for accounts; pools and closes whatever they hold."""

    def supports(self, exchange: str) -> bool: ...

    async def for_account(self, account: ExchangeAccount) -> ExchangeGateway: ...


class CredentialVault(Protocol):
    async def credentials_for(self, account: ExchangeAccount) -> ApiCredentials:
        """Decrypts the connection's stored secrets; raises `AuthRejected` when it cannot."""
        ...


class PaperMarket(Protocol):
    """The simulated exchange's price board (admin-set mark prices)."""

    async def set_mark_price(self, symbol: str, price: Decimal) -> None: ...

    async def mark_prices(self) -> dict[str, Decimal]: ...

    async def open_account(self, account_id: str) -> None:
        """Give a new paper account its starting balance (idempotent)."""
        ...


class SymbolCatalog(Protocol):
    async def is_tradable(self, symbol: str) -> bool:
        """Whether any exchange Mimic trades on lists this normalised symbol."""
        ...
