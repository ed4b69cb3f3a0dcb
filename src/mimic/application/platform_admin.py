"""Admin-only platform operations: global risk settings, paper prices."""

from decimal import Decimal

from mimic.application.audit_trail import SYSTEM, RequestContext, audit_event
from mimic.domain.errors import InvalidField
from mimic.domain.risk import PlatformRiskSettings
from mimic.ports.exchange import PaperMarket, SymbolCatalog
from mimic.ports.repositories import AuditLog, SettingsRepository, TransactionManager
from mimic.ports.services import Clock


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
