"""Admin-only platform operations: global risk settings, paper prices, the sweeper."""

import logging
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from mimic.application.audit_trail import SYSTEM, RequestContext, audit_event
from mimic.domain.errors import InvalidField
from mimic.domain.risk import PlatformRiskSettings
from mimic.ports.exchange import PaperMarket, SymbolCatalog
from mimic.ports.repositories import (
    AuditLog,
    SettingsRepository,
    SignalRepository,
    TransactionManager,
)
from mimic.ports.services import Clock, SignalQueue

log = logging.getLogger(__name__)


class ManagePlatformSettings:
    def __init__(
        self, settings: SettingsRepository, tx: TransactionManager, audit: AuditLog, clock: Clock
    ) -> None:
        self._settings = settings
        self._tx = tx
        self._audit = audit
        self._clock = clock

    async def get(self) -> PlatformRiskSettings:
        return await self._settings.get_platform_risk()

    async def replace(
        self, new: PlatformRiskSettings, context: RequestContext = SYSTEM
    ) -> PlatformRiskSettings:
        old = await self._settings.get_platform_risk()
        await self._settings.save_platform_risk(new)
        changed = {
            name: f"{getattr(old, name)} -> {getattr(new, name)}"
            for name in ("default_risk_perc", "default_leverage", "max_risk_perc", "max_leverage")
            if getattr(old, name) != getattr(new, name)
        }
        await self._audit.record(
            audit_event(context, self._clock.now(), "settings.platform_changed", **changed)
        )
        await self._tx.commit()
        return new


class SetPaperPrice:
    def __init__(self, paper: PaperMarket, catalog: SymbolCatalog) -> None:
        self._paper = paper
        self._catalog = catalog

    async def __call__(self, symbol: str, price: Decimal) -> None:
        if not price.is_finite() or price <= 0:
            raise InvalidField("price", "must be a positive number")
        if not await self._catalog.is_tradable(symbol):
            raise InvalidField("symbol", f"{symbol} is not listed on the paper exchange")
        await self._paper.set_mark_price(symbol, price)


@dataclass(frozen=True, slots=True)
class SweepResult:
    requeued: list[str]


class SweepUnfinishedSignals:
    """Re-drives signals a lost queue message or a dead worker left unfinished."""

    def __init__(
        self, signals: SignalRepository, queue: SignalQueue, clock: Clock, grace: timedelta
    ) -> None:
        self._signals = signals
        self._queue = queue
        self._clock = clock
        self._grace = grace

    async def __call__(self) -> SweepResult:
        unfinished = await self._signals.list_unfinished(
            received_before=self._clock.now() - self._grace
        )
        for signal in unfinished:
            for part in signal.unfinished_parts():  # a finished part is not run again
                await self._queue.enqueue_execution(signal.id, part.index)
        if unfinished:
            log.info("sweeper re-queued %d unfinished signal(s)", len(unfinished))
        return SweepResult([signal.id for signal in unfinished])
