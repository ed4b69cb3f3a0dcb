"""Platform-wide settings on SQLAlchemy Core, one JSON or flag value per key."""

import json
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mimic.adapters.sqlalchemy.statements import _insert
from mimic.adapters.sqlalchemy.tables import platform_settings
from mimic.domain.risk import PlatformRiskSettings
from mimic.ports.repositories import SettingsRepository

PLATFORM_RISK_KEY = "platform_risk"
COPYING_PAUSED_KEY = "copying_paused"


class SqlSettingsRepository(SettingsRepository):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get_platform_risk(self) -> PlatformRiskSettings:
        raw = (
            await self._session.execute(
                select(platform_settings.c.value).where(
                    platform_settings.c.key == PLATFORM_RISK_KEY
                )
            )
        ).scalar_one_or_none()
        if raw is None:
            return PlatformRiskSettings()
        data = json.loads(raw)
        return PlatformRiskSettings(
            default_risk_perc=Decimal(data["default_risk_perc"]),
            default_leverage=int(data["default_leverage"]),
            max_risk_perc=Decimal(data["max_risk_perc"]),
            max_leverage=int(data["max_leverage"]),
        )

    async def save_platform_risk(self, settings: PlatformRiskSettings) -> None:
        # Decimals as strings: JSON numbers would go through float.
        value = json.dumps(
            {
                "default_risk_perc": str(settings.default_risk_perc),
                "default_leverage": settings.default_leverage,
                "max_risk_perc": str(settings.max_risk_perc),
                "max_leverage": settings.max_leverage,
            }
        )
        insert = _insert(self._session, platform_settings).values(
            key=PLATFORM_RISK_KEY, value=value
        )
        await self._session.execute(
            insert.on_conflict_do_update(
                index_elements=[platform_settings.c.key], set_={"value": insert.excluded.value}
            )
        )

    async def copying_paused(self) -> bool:
        raw = (
            await self._session.execute(
                select(platform_settings.c.value).where(
                    platform_settings.c.key == COPYING_PAUSED_KEY
                )
            )
        ).scalar_one_or_none()
        return raw == "true"

    async def set_copying_paused(self, paused: bool) -> None:
        insert = _insert(self._session, platform_settings).values(
            key=COPYING_PAUSED_KEY, value="true" if paused else "false"
        )
        await self._session.execute(
            insert.on_conflict_do_update(
                index_elements=[platform_settings.c.key], set_={"value": insert.excluded.value}
            )
        )
