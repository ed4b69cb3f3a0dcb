"""In-memory SettingsRepository."""

from mimic.domain.risk import PlatformRiskSettings
from mimic.ports.repositories import (
    SettingsRepository,
)


class InMemorySettingsRepository(SettingsRepository):
    def __init__(self, platform: PlatformRiskSettings | None = None) -> None:
        self._platform = platform or PlatformRiskSettings()
        self._copying_paused = False

    async def get_platform_risk(self) -> PlatformRiskSettings:
        return self._platform

    async def save_platform_risk(self, settings: PlatformRiskSettings) -> None:
        self._platform = settings

    async def copying_paused(self) -> bool:
        return self._copying_paused

    async def set_copying_paused(self, paused: bool) -> None:
        self._copying_paused = paused
