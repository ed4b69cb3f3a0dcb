"""One ExchangeGateways for the whole platform: each account goes to the venue serving it."""

from collections.abc import Sequence

from mimic.domain.accounts import ExchangeAccount
from mimic.domain.errors import ExchangeUnavailable
from mimic.ports.exchange import ExchangeGateway, ExchangeGateways


class ExchangeRouter(ExchangeGateways):
    """The first venue that supports an account's exchange serves it (paper, then ccxt)."""

    def __init__(self, venues: Sequence[ExchangeGateways]) -> None:
        self._venues = tuple(venues)

    def supports(self, exchange: str) -> bool:
        return any(venue.supports(exchange) for venue in self._venues)

    async def for_account(self, account: ExchangeAccount) -> ExchangeGateway:
        for venue in self._venues:
            if venue.supports(account.exchange):
                return await venue.for_account(account)
        raise ExchangeUnavailable(f"{account.exchange} is not a supported exchange")
