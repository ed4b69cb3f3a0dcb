"""The bot links and obeys private chats only, and only the person the chat is with.

Updates are shaped as the Bot API sends them (https://core.telegram.org/bots/api#update):
a group, a supergroup and a channel post carry the same "/start <code>" a private chat would.
"""

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.integration.entrypoints.http.test_telegram_and_panic import (
    HOOK_SECRET,
    TOKEN,
    platform,
    reply,
)
from tests.integration.harness import Api
from tests.stubs.telegram import TelegramStub, private_message

ALICE = 7011223344  # her Telegram user id, which is also her private chat's id
MALLORY = 5099887766


@pytest.fixture
async def stub() -> AsyncIterator[TelegramStub]:
    async with TelegramStub(token=TOKEN) as server:
        yield server


def group_message(chat_type: str, sender_id: int, text: str) -> dict[str, Any]:
    chat: dict[str, Any] = {"id": -4012345678, "title": "Copy traders", "type": chat_type}
    if chat_type == "group":
        chat["all_members_are_administrators"] = True
    else:
        chat["id"] = -1001987654321  # supergroups' ids start with -100
    return {
        "update_id": 400,
        "message": {
            "message_id": 77,
            "from": {"id": sender_id, "is_bot": False, "first_name": "Member"},
            "chat": chat,
            "date": 1764806400,
            "text": text,
            "entities": [{"offset": 0, "length": len(text.split()[0]), "type": "bot_command"}],
        },
    }


def channel_post(text: str) -> dict[str, Any]:
    channel = {"id": -1001555000111, "title": "Signals", "type": "channel"}
    return {
        "update_id": 401,
        "channel_post": {
            "message_id": 12,
            "sender_chat": channel,
            "chat": channel,
            "date": 1764806400,
            "text": text,
        },
    }


async def post_update(api: Api, update: dict[str, Any]) -> dict[str, Any]:
    response = await api.client.post(
        "/api/telegram/webhook",
        json=update,
        headers={"X-Telegram-Bot-Api-Secret-Token": HOOK_SECRET},
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def linked(api: Api, token: str) -> bool:
    response = await api.client.get("/api/me/notifications", headers=api.auth(token))
    return bool(response.json()["telegram_linked"])


async def paused(api: Api, token: str) -> bool:
    response = await api.client.get("/api/me", headers=api.auth(token))
    return bool(response.json()["settings"]["paused"])


async def test_groups_supergroups_and_channels_cannot_link_or_command(
    sqlite_url: str, stub: TelegramStub
) -> None:
    async with platform(sqlite_url, stub) as api:
        alice, _ = await api.follower("alice")
        offer = await api.client.post("/api/me/telegram/link", headers=api.auth(alice))
        start = offer.json()["start_command"]

        for chat_type in ("group", "supergroup"):
            answer = await post_update(api, group_message(chat_type, ALICE, start))
            assert "private chat" in answer["text"], answer
        assert await post_update(api, channel_post(start)) == {}
        assert not await linked(api, alice)

        # The same code, unspent by those attempts, links her private chat.
        assert "Linked to alice" in await reply(api, ALICE, start)
        assert await linked(api, alice)

        # Neither she nor anyone else commands her account from a group.
        for chat_type in ("group", "supergroup"):
            for sender in (ALICE, MALLORY):
                for command in ("/pause", "/status", "/balance@MimicTestBot"):
                    answer = await post_update(api, group_message(chat_type, sender, command))
                    assert "private chat" in answer["text"], answer
        assert await post_update(api, channel_post("/pause")) == {}
        assert not await paused(api, alice)

        # A message in her private chat written by someone else (a forged update) is refused.
        forged = {"update_id": 402, "message": private_message(78, ALICE, "/pause")}
        forged["message"]["from"]["id"] = MALLORY
        assert "private chat" in (await post_update(api, forged))["text"]
        assert not await paused(api, alice)

        assert "paused" in await reply(api, ALICE, "/pause")
        assert await paused(api, alice)
