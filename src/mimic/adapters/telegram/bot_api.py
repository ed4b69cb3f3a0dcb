"""The Telegram Bot API over httpx: sendMessage, getUpdates, setWebhook.

The bot token is part of every URL path, so it must never reach a log line or an
exception: httpx's own request log is filtered, and failures are reported without URLs.
"""

import logging
from typing import Any

import httpx

from mimic.domain.errors import DeliveryFailed
from mimic.domain.notifications import MAX_MESSAGE_CHARS, FloodWait
from mimic.ports.notifications import ChatMessenger

DEFAULT_API_URL = "https://api.telegram.org"


class _RedactToken(logging.Filter):
    def __init__(self, token: str) -> None:
        super().__init__()
        self._token = token

    def filter(self, record: logging.LogRecord) -> bool:
        if self._token in record.getMessage():
            record.msg = record.getMessage().replace(self._token, "<token>")
            record.args = None
        return True


class TelegramBotApi(ChatMessenger):
    def __init__(
        self, token: str, *, api_url: str = DEFAULT_API_URL, timeout: float = 10.0
    ) -> None:
        if not token:
            raise ValueError("a Telegram bot token is required")
        self._client = httpx.AsyncClient(
            base_url=f"{api_url.rstrip('/')}/bot{token}/",
            # Long polling holds a request open for its timeout; give it room.
            timeout=httpx.Timeout(timeout, read=timeout + 60),
        )
        self._redact = _RedactToken(token)
        for name in ("httpx", "httpcore"):
            logging.getLogger(name).addFilter(self._redact)

    @property
    def enabled(self) -> bool:
        return True

    async def close(self) -> None:
        await self._client.aclose()
        for name in ("httpx", "httpcore"):
            logging.getLogger(name).removeFilter(self._redact)

    async def _call(self, method: str, payload: dict[str, Any]) -> Any:
        try:
            response = await self._client.post(method, json=payload)
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"telegram {method}: {exc.__class__.__name__}") from None
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code == 429 or body.get("error_code") == 429:
            retry_after = float(body.get("parameters", {}).get("retry_after", 1))
            raise FloodWait(retry_after)
        if response.status_code != 200 or not body.get("ok"):
            description = str(body.get("description", ""))[:200]
            raise DeliveryFailed(
                f"telegram {method} answered {response.status_code}: {description}"
            )
        return body.get("result")

    async def send_message(self, chat_id: str, text: str) -> None:
        await self._call("sendMessage", {"chat_id": chat_id, "text": text[:MAX_MESSAGE_CHARS]})

    async def get_updates(self, offset: int | None, wait_seconds: int) -> list[dict[str, Any]]:
        payload: dict[str, Any] = {"timeout": wait_seconds, "allowed_updates": ["message"]}
        if offset is not None:
            payload["offset"] = offset
        result = await self._call("getUpdates", payload)
        return list(result or [])

    async def set_webhook(self, url: str, secret_token: str) -> None:
        await self._call(
            "setWebhook",
            {"url": url, "secret_token": secret_token, "allowed_updates": ["message"]},
        )

    async def delete_webhook(self) -> None:
        await self._call("deleteWebhook", {})


class NoTelegram(ChatMessenger):
    """No bot token configured: notifications use the other channels."""

    @property
    def enabled(self) -> bool:
        return False

    async def send_message(self, chat_id: str, text: str) -> None:
        raise DeliveryFailed("Telegram is not configured")
