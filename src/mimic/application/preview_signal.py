"""Pre-flight: what a signal would do on each follower account, without doing it.

The very planning of the fan-out runs (`SignalPlanner.preview`: same sizing, caps,
exchange rules, skip reasons, daily guardrails and the followers' choice of sources);
nothing is stored or sent.
"""

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from mimic.application.signal_planning import SignalPlanner
from mimic.domain.accounts import ExchangeAccount, SignalSource, User
from mimic.domain.alerts import read_alert
from mimic.domain.errors import ExchangeError, InvalidField
from mimic.domain.orders import OrderLeg, OrderSide
from mimic.domain.planning import PlannedLeg
from mimic.domain.positions import PositionSide
from mimic.domain.protection import protection_percentages, protective_prices
from mimic.domain.signal import Signal, SignalParams
from mimic.ports.exchange import ExchangeGateways, SymbolCatalog
from mimic.ports.repositories import ExchangeAccountRepository, SignalSourceRepository
from mimic.ports.services import Clock


@dataclass(frozen=True, slots=True)
class AccountPreview:
    account: ExchangeAccount
    username: str
    legs: list[PlannedLeg]
    mark_price: Decimal | None
    take_profit: Decimal | None
    stop_loss: Decimal | None

    @property
    def would_send(self) -> bool:
        return any(leg.skip_reason is None for leg in self.legs)


@dataclass(frozen=True, slots=True)
class SignalPreview:
    params: SignalParams
    accounts: list[AccountPreview]


class PreviewSignal:
    def __init__(
        self,
        planner: SignalPlanner,
        accounts: ExchangeAccountRepository,
        catalog: SymbolCatalog,
        gateways: ExchangeGateways,
        clock: Clock,
        sources: SignalSourceRepository,
    ) -> None:
        self._sources = sources
        self._planner = planner
        self._accounts = accounts
        self._catalog = catalog
        self._gateways = gateways
        self._clock = clock

    async def __call__(
        self, requester: User, values: Mapping[str, object], source_id: str | None = None
    ) -> SignalPreview:
        """An admin sees every follower account; a follower only their own.

        As a signal of `source_id` (which may be left out while one source is active): its
        direction, and who follows it with which allocation.
        """
        source = await self._source(source_id)
        params = read_alert(values, source.direction)
        if not await self._catalog.is_tradable(params.symbol):
            raise InvalidField("symbol", f"{params.symbol} is not traded on any connected exchange")
        candidates = [
            (account, user)
            for account, user in await self._accounts.list_copy_candidates()
            if requester.is_admin or user.id == requester.id
        ]
        signal = Signal(
            id=f"preview-{uuid.uuid4().hex}",
            source_id=source.id,
            params=params,
            dedupe_key="",
            received_at=self._clock.now(),
        )
        plans = await self._planner.preview(signal, candidates)
        previews = []
        for plan in plans:
            entry = next(
                (leg for leg in plan.legs if leg.leg is OrderLeg.ENTRY and leg.skip_reason is None),
                None,
            )
            mark = take_profit = stop_loss = None
            if entry is not None:
                try:
                    gateway = await self._gateways.for_account(plan.account)
                    rules = await gateway.market_rules(params.symbol)
                    mark = await gateway.fetch_mark_price(params.symbol)
                except ExchangeError:
                    mark = None
                else:
                    # As the fan-out protects a fill: the signal's percentages, else the
                    # follower's defaults, here from the mark price instead of the fill's.
                    tp_perc, sl_perc = protection_percentages(
                        params.tp_perc, params.sl_perc, plan.user.protection
                    )
                    side = PositionSide.LONG if entry.side is OrderSide.BUY else PositionSide.SHORT
                    prices = protective_prices(
                        side, mark, tp_perc=tp_perc, sl_perc=sl_perc, tick_size=rules.tick_size
                    )
                    take_profit, stop_loss = prices.take_profit, prices.stop_loss
            previews.append(
                AccountPreview(
                    plan.account, plan.user.username, plan.legs, mark, take_profit, stop_loss
                )
            )
        return SignalPreview(params, previews)

    async def _source(self, source_id: str | None) -> SignalSource:
        if source_id is not None:
            source = await self._sources.get(source_id)
            if source is None:
                raise InvalidField("source_id", f"{source_id!r} is not a signal source")
            return source
        active = [s for s in await self._sources.list_all() if s.active]
        if len(active) != 1:
            raise InvalidField(
                "source_id",
                f"is required: {len(active)} sources are active (GET /api/sources lists them)",
            )
        return active[0]
