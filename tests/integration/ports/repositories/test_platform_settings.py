"""The SettingsRepository contract, on the fake and on SQL (SQLite, Postgres)."""

from decimal import Decimal

from mimic.domain.risk import PlatformRiskSettings
from tests.integration.ports.rows import TINY
from tests.integration.ports.stores import Store


async def test_platform_risk_settings(store: Store) -> None:
    async with store.unit() as repos:
        assert await repos.settings.get_platform_risk() == PlatformRiskSettings()
        first = PlatformRiskSettings(
            default_risk_perc=Decimal("0.25"),
            default_leverage=3,
            max_risk_perc=Decimal("2.125"),
            max_leverage=10,
        )
        await repos.settings.save_platform_risk(first)
    async with store.unit() as repos:
        assert await repos.settings.get_platform_risk() == first
        second = PlatformRiskSettings(default_risk_perc=TINY, max_leverage=50)
        await repos.settings.save_platform_risk(second)
    async with store.unit() as repos:
        loaded = await repos.settings.get_platform_risk()
    assert loaded == second
    assert str(loaded.default_risk_perc) == str(TINY)


async def test_copying_pauses_and_resumes(store: Store) -> None:
    async with store.unit() as repos:
        assert await repos.settings.copying_paused() is False
        await repos.settings.set_copying_paused(True)
    async with store.unit() as repos:
        assert await repos.settings.copying_paused() is True
        await repos.settings.set_copying_paused(False)
    async with store.unit() as repos:
        assert await repos.settings.copying_paused() is False
