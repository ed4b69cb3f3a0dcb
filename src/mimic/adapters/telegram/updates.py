"""Bot API updates (https://core.telegram.org/bots/api#update) read into chat messages."""

from mimic.domain.notifications import ChatMessage
from mimic.ports.notifications import ChatUpdates


class TelegramUpdates(ChatUpdates):
    def chat_message(self, update: object) -> ChatMessage | None:
        """A `message` update with text; None for anything else (channel posts, edits,
        stickers, member changes): the bot answers only what a person wrote to it."""
        message = update.get("message") if isinstance(update, dict) else None
        if not isinstance(message, dict):
            return None
        chat, sender, text = message.get("chat"), message.get("from"), message.get("text")
        if not isinstance(chat, dict) or "id" not in chat or not isinstance(text, str):
            return None
        sender_id = None
        if isinstance(sender, dict) and "id" in sender and sender.get("is_bot") is False:
            sender_id = str(sender["id"])
        return ChatMessage(
            chat_id=str(chat["id"]),
            chat_type=str(chat.get("type", "")),
            sender_id=sender_id,
            text=text,
        )
