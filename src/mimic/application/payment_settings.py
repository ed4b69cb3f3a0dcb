"""Admin settings for payments, and the fan-out's subscription check."""

from collections.abc import Collection

from mimic.domain.payments import PaymentSettings
from mimic.ports.payments import PaymentSettingsRepository, SubscriptionRepository
from mimic.ports.repositories import TransactionManager
from mimic.ports.services import Clock


class ManagePaymentSettings:
    def __init__(self, settings: PaymentSettingsRepository, tx: TransactionManager) -> None:
        self._settings = settings
        self._tx = tx

    async def get(self) -> PaymentSettings:
        return await self._settings.get_payment_settings()

    async def replace(self, new: PaymentSettings) -> PaymentSettings:
        await self._settings.save_payment_settings(new)
        await self._tx.commit()
        return new


class SubscriptionGate:
    """Which followers may not open positions for lack of a subscription: one query for
    a whole fan-out, none at all while subscriptions are not required."""

    def __init__(
        self,
        settings: PaymentSettingsRepository,
        subscriptions: SubscriptionRepository,
        clock: Clock,
    ) -> None:
        self._settings = settings
        self._subscriptions = subscriptions
        self._clock = clock

    async def lacking_subscription(self, user_ids: Collection[str]) -> set[str]:
        if not user_ids or not (await self._settings.get_payment_settings()).require_subscription:
            return set()
        active = await self._subscriptions.active_among(user_ids, self._clock.now())
        return set(user_ids) - active
