"""A fake Telegram Bot API over real HTTP: getUpdates, sendMessage, setWebhook, deleteWebhook.

It checks the bot token in the path, records every message with the time it arrived, hands
out queued updates to long polling, and answers 429 with retry_after on demand:

    async with TelegramStub(token="123:ABC") as stub:
        stub.push_message(chat_id=1001, text="/status")   # an update for getUpdates
        stub.flood(retry_after=1)                           # next sendMessage: 429
"""

import asyncio
import itertools
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web


@dataclass(frozen=True)
class SentMessage:
    chat_id: str
    text: str
    at: float  # time.monotonic() when it arrived


def private_message(message_id: int, person_id: int, text: str) -> dict[str, Any]:
    """A message in a person's private chat with the bot, as the Bot API sends it: the
    chat's id is the person's id."""
    return {
        "message_id": message_id,
        "from": {"id": person_id, "is_bot": False, "first_name": "Ada", "language_code": "en"},
        "chat": {"id": person_id, "first_name": "Ada", "type": "private"},
        "date": int(time.time()),
        "text": text,
    }


class TelegramStub:
    def __init__(self, token: str = "123456:TEST-TOKEN") -> None:
        self.token = token
        self.messages: list[SentMessage] = []
        self.refused: list[SentMessage] = []  # answered 429
        self.webhook: dict[str, Any] | None = None
        self.calls: list[str] = []
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._new_update = asyncio.Event()
        self._floods: list[int] = []
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def __aenter__(self) -> "TelegramStub":
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def push_message(self, chat_id: int, text: str) -> int:
        update_id = next(self._update_ids)
        self._updates.append(
            {
                "update_id": update_id,
                "message": private_message(update_id, chat_id, text),
            }
        )
        self._new_update.set()
        return update_id

    def flood(self, retry_after: int, times: int = 1) -> None:
        self._floods.extend([retry_after] * times)

    def sent_to(self, chat_id: int | str) -> list[SentMessage]:
        return [m for m in self.messages if m.chat_id == str(chat_id)]

    async def wait_for_message(
        self, chat_id: int | str, containing: str, within: float = 10.0
    ) -> SentMessage:
        deadline = time.monotonic() + within
        while True:
            for message in self.sent_to(chat_id):
                if containing in message.text:
                    return message
            texts = [m.text for m in self.sent_to(chat_id)]
            assert time.monotonic() < deadline, f"no {containing!r} to {chat_id}: {texts}"
            await asyncio.sleep(0.02)

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        method = request.match_info["method"]
        self.calls.append(method)
        body = await request.json() if request.can_read_body else {}
        if method == "sendMessage":
            message = SentMessage(str(body["chat_id"]), str(body["text"]), time.monotonic())
            if self._floods:
                self.refused.append(message)
                retry_after = self._floods.pop(0)
                return web.json_response(
                    {
                        "ok": False,
                        "error_code": 429,
                        "description": f"Too Many Requests: retry after {retry_after}",
                        "parameters": {"retry_after": retry_after},
                    },
                    status=429,
                )
            self.messages.append(message)
            return web.json_response({"ok": True, "result": {"message_id": len(self.messages)}})
        if method == "getUpdates":
            return web.json_response({"ok": True, "result": await self._get_updates(body)})
        if method == "setWebhook":
            self.webhook = body
            return web.json_response({"ok": True, "result": True})
        if method == "deleteWebhook":
            self.webhook = None
            return web.json_response({"ok": True, "result": True})
        return web.json_response(
            {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
        )

    async def _get_updates(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        offset = body.get("offset")
        if offset is not None:  # confirms every update below it, as Telegram does
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if not self._updates:
            self._new_update.clear()
            try:
                await asyncio.wait_for(self._new_update.wait(), timeout=body.get("timeout", 0))
            except TimeoutError:
                return []
        return list(self._updates)
