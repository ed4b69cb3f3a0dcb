"""What exchange gateways share unless a venue can do better: the port's members that have
an answer for every venue, written once."""

from mimic.domain.orders import OrderFill, OrderRequest
from mimic.ports.exchange import AccountSnapshot, ExchangeGateway


class ExchangeGatewayBase(ExchangeGateway):
    """A venue's gateway, given the obvious way of doing what it has no better way for.

    Not for wrappers of another gateway (metering, routing): they pass every member on, or
    the wrapped venue's own answer is lost behind these defaults.
    """

    async def fetch_snapshot(self, symbol: str, *, with_balance: bool) -> AccountSnapshot:
        """Read one after the other; a venue that reads them together (the paper exchange:
        one batched transaction) overrides this."""
        position = await self.fetch_position(symbol)
        if not with_balance:
            return AccountSnapshot(position)
        balance = await self.fetch_balance()
        return AccountSnapshot(position, balance.equity, await self.fetch_mark_price(symbol))

    async def place_market_order_at_leverage(
        self, request: OrderRequest, leverage: int | None
    ) -> OrderFill:
        """Two calls; a venue that does both in one step (the paper exchange) overrides this."""
        if leverage is not None:
            await self.set_leverage(request.symbol, leverage)
        return await self.place_market_order(request)

    @property
    def lookup_sees_every_order(self) -> bool:
        return False  # the cautious answer: the order sender then also searches recent orders

    async def find_recent_order(self, symbol: str, client_order_id: str) -> OrderFill | None:
        """A venue without a listing of recent orders answers as `find_order` does."""
        return await self.find_order(symbol, client_order_id)
