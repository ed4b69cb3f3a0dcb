"""dishka providers of the notifications, the Telegram bot and the panic switch."""

from collections.abc import AsyncIterator

from dishka import Provider, Scope, provide
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mimic.adapters.sqlalchemy.notifications import (
    SqlNotificationOutbox,
    SqlNotificationPreferences,
    SqlNotificationRecipients,
    SqlTelegramLinks,
)
from mimic.adapters.sqlalchemy.outbox_notifier import OutboxNotifier
from mimic.adapters.sqlalchemy.panic import (
    SqlPanicCloseRepository,
    SqlPanicGuardStore,
    SqlPanicRunRepository,
)
from mimic.adapters.telegram.bot_api import NoTelegram, TelegramBotApi
from mimic.adapters.telegram.updates import TelegramUpdates
from mimic.adapters.totp import Totp
from mimic.application.deliver_notifications import DeliverNotifications, DeliveryPolicy
from mimic.application.live_updates import PublishingNotifier
from mimic.application.panic import (
    CheckPanicOtp,
    PanicOtpSetup,
    PanicPolicy,
    PauseCopying,
    PullPanic,
    ResumeCopying,
    SetUpPanicOtp,
    ViewPanicRuns,
)
from mimic.application.telegram_bot import AnswerBotMessage, BotUsername, ManageNotifications
from mimic.domain.notifications import FloodControl
from mimic.entrypoints.config import Settings
from mimic.ports.live_events import LiveEvents
from mimic.ports.notifications import (
    ChatMessenger,
    ChatUpdates,
    NotificationOutbox,
    NotificationPreferences,
    NotificationRecipients,
    TelegramLinks,
)
from mimic.ports.panic import (
    OneTimePasswords,
    PanicCloseRepository,
    PanicGuardStore,
    PanicRunRepository,
)
from mimic.ports.services import Clock, Notifier


class NotificationsProvider(Provider):
    @provide(scope=Scope.APP)
    def notifier(
        self, sessions: async_sessionmaker[AsyncSession], clock: Clock, live: LiveEvents
    ) -> Notifier:
        return PublishingNotifier(OutboxNotifier(sessions, clock), live)

    @provide(scope=Scope.APP)
    async def messenger(self, settings: Settings) -> AsyncIterator[ChatMessenger]:
        if not settings.telegram_bot_token:
            yield NoTelegram()
            return
        bot = TelegramBotApi(settings.telegram_bot_token, api_url=settings.telegram_api_url)
        yield bot
        await bot.close()

    @provide(scope=Scope.APP)
    def flood_control(self) -> FloodControl:
        """One per process: every pass of this process's sender shares the chat spacing."""
        return FloodControl()

    @provide(scope=Scope.APP)
    def delivery_policy(self, settings: Settings) -> DeliveryPolicy:
        return DeliveryPolicy(site_url=settings.base_url)

    @provide(scope=Scope.APP)
    def one_time_passwords(self, settings: Settings) -> OneTimePasswords:
        return Totp(settings.panic_totp_secret)

    @provide(scope=Scope.APP)
    def panic_setup(self, settings: Settings) -> PanicOtpSetup:
        return PanicOtpSetup(secret_from_operator=settings.panic_secret_from_operator)

    @provide(scope=Scope.APP)
    def panic_policy(self) -> PanicPolicy:
        return PanicPolicy()

    @provide(scope=Scope.APP)
    def bot_username(self, settings: Settings) -> BotUsername:
        return BotUsername(settings.telegram_bot_username)

    chat_updates = provide(TelegramUpdates, provides=ChatUpdates, scope=Scope.APP)
    outbox = provide(SqlNotificationOutbox, provides=NotificationOutbox, scope=Scope.REQUEST)
    preferences = provide(
        SqlNotificationPreferences, provides=NotificationPreferences, scope=Scope.REQUEST
    )
    recipients = provide(
        SqlNotificationRecipients, provides=NotificationRecipients, scope=Scope.REQUEST
    )
    links = provide(SqlTelegramLinks, provides=TelegramLinks, scope=Scope.REQUEST)
    guard = provide(SqlPanicGuardStore, provides=PanicGuardStore, scope=Scope.REQUEST)
    runs = provide(SqlPanicRunRepository, provides=PanicRunRepository, scope=Scope.REQUEST)
    closes = provide(SqlPanicCloseRepository, provides=PanicCloseRepository, scope=Scope.REQUEST)

    deliver = provide(DeliverNotifications, scope=Scope.REQUEST)
    manage = provide(ManageNotifications, scope=Scope.REQUEST)
    answer = provide(AnswerBotMessage, scope=Scope.REQUEST)
    check_otp = provide(CheckPanicOtp, scope=Scope.REQUEST)
    setup_otp = provide(SetUpPanicOtp, scope=Scope.REQUEST)
    pull_panic = provide(PullPanic, scope=Scope.REQUEST)
    view_panic = provide(ViewPanicRuns, scope=Scope.REQUEST)
    resume = provide(ResumeCopying, scope=Scope.REQUEST)
    pause = provide(PauseCopying, scope=Scope.REQUEST)
