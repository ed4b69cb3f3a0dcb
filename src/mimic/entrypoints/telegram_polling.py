"""`mimic telegram`: the bot by long polling (getUpdates), or setting its webhook once."""

import asyncio
import logging
from typing import Any

from dishka import AsyncContainer

from mimic.adapters.telegram.bot_api import TelegramBotApi
from mimic.adapters.telegram.updates import TelegramUpdates
from mimic.application.telegram_bot import AnswerBotMessage
from mimic.domain.errors import DeliveryFailed
from mimic.domain.notifications import FloodControl, FloodWait
from mimic.ports.services import Clock

log = logging.getLogger(__name__)

POLL_SECONDS = 30


async def answer_update(
    container: AsyncContainer, bot: TelegramBotApi, update: dict[str, Any]
) -> None:
    message = TelegramUpdates().chat_message(update)
    if message is None:
        return
    chat_id = message.chat_id
    async with container() as request:
        answer = await request.get(AnswerBotMessage)
        reply = await answer(message)
    if reply is None:
        return
    flood = await container.get(FloodControl)
    clock = await container.get(Clock)
    for _ in range(3):
        wait = flood.wait_for(chat_id, clock.now())
        await asyncio.sleep(wait.total_seconds())
        try:
            await bot.send_message(chat_id, reply)
        except FloodWait as exc:
            flood.retry_after(exc.retry_after, clock.now())
            continue
        flood.sent(chat_id, clock.now())
        return
    log.warning("reply to a chat dropped: Telegram kept answering 429")


async def poll(
    container: AsyncContainer,
    bot: TelegramBotApi,
    stop: asyncio.Event,
    *,
    poll_seconds: int = POLL_SECONDS,
) -> None:
    """Answer every message until `stop` is set; an update is confirmed once handled."""
    await bot.delete_webhook()  # getUpdates is refused while a webhook is set
    offset: int | None = None
    while not stop.is_set():
        try:
            updates = await bot.get_updates(offset, poll_seconds)
        except FloodWait as exc:
            await asyncio.sleep(exc.retry_after)
            continue
        except DeliveryFailed as exc:
            log.warning("getUpdates failed: %s", exc)
            await asyncio.sleep(1)
            continue
        for update in updates:
            offset = int(update["update_id"]) + 1
            try:
                await answer_update(container, bot, update)
            except Exception:  # one bad update must not stop the bot
                log.exception("telegram update %s failed", update.get("update_id"))
