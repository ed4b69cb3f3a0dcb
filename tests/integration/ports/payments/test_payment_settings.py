"""The PaymentSettingsRepository contract, on the fake and on SQL (SQLite, Postgres)."""

from decimal import Decimal

from mimic.domain.payments import PaymentSettings
from tests.integration.ports.stores import PAYMENT_DEFAULTS, Store


async def test_payment_settings_start_from_the_defaults_then_persist(store: Store) -> None:
    async with store.unit() as repos:
        assert await repos.payment_settings.get_payment_settings() == PAYMENT_DEFAULTS
        changed = PaymentSettings(
            referral_commission_perc=Decimal("12.5"), require_subscription=False
        )
        await repos.payment_settings.save_payment_settings(changed)
    async with store.unit() as repos:
        assert await repos.payment_settings.get_payment_settings() == changed
