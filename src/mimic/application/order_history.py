"""A follower's order history: filtered, a page at a time, or whole as a CSV export."""

from dataclasses import dataclass

from mimic.domain.errors import InvalidField
from mimic.domain.orders import OrderFilters, OrderIntent
from mimic.ports.panic import PanicCloseRepository
from mimic.ports.repositories import OrderIntentRepository

MAX_PAGE = 200
# Deeper pages cost more (both sources are read up to the page): filters reach older orders.
MAX_OFFSET = 10_000
MAX_EXPORT = 10_000


@dataclass(frozen=True, slots=True)
class OrderPage:
    orders: list[OrderIntent]
    has_more: bool


class ViewOrderHistory:
    """Orders of signals and of panic runs, newest first, as one list."""

    def __init__(self, intents: OrderIntentRepository, panic_closes: PanicCloseRepository) -> None:
        self._intents = intents
        self._panic_closes = panic_closes

    async def __call__(
        self, user_id: str, filters: OrderFilters, *, offset: int, limit: int
    ) -> OrderPage:
        if not 0 <= offset <= MAX_OFFSET:
            raise InvalidField("offset", f"must be from 0 to {MAX_OFFSET}")
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidField("limit", f"must be from 1 to {MAX_PAGE}")
        window = (await self._newest(user_id, filters, offset + limit + 1))[offset:]
        return OrderPage(window[:limit], has_more=len(window) > limit)

    async def export(self, user_id: str, filters: OrderFilters) -> list[OrderIntent]:
        """The newest MAX_EXPORT orders the filters admit."""
        return await self._newest(user_id, filters, MAX_EXPORT)

    async def _newest(self, user_id: str, filters: OrderFilters, count: int) -> list[OrderIntent]:
        orders = await self._intents.list_for_user(user_id, limit=count, filters=filters)
        orders += await self._panic_closes.list_for_user(user_id, limit=count, filters=filters)
        orders.sort(key=lambda o: (o.created_at, o.id), reverse=True)
        return orders[:count]
