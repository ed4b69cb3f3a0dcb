"""Wire shapes of the messages routes."""

from typing import Annotated

import msgspec

from mimic.domain.messages import MAX_BODY_LENGTH
from mimic.entrypoints.http.contract import NOT_BLANK

MessageBody = Annotated[str, msgspec.Meta(pattern=NOT_BLANK, max_length=MAX_BODY_LENGTH)]


class NewMessageRequest(msgspec.Struct, forbid_unknown_fields=True):
    body: MessageBody
    subject: str | None = None
    user_id: str | None = None


class ReplyRequest(msgspec.Struct, forbid_unknown_fields=True):
    body: MessageBody


class MessageOut(msgspec.Struct):
    id: str
    thread_id: str
    sender_id: str
    from_admin: bool
    body: str
    created_at: str
    read_at: str | None


class ThreadOut(msgspec.Struct):
    id: str
    user_id: str
    subject: str
    created_at: str
    updated_at: str
    unread: int
    messages: int


class ThreadDetailOut(msgspec.Struct):
    id: str
    user_id: str
    subject: str
    created_at: str
    updated_at: str
    messages: list[MessageOut]


class UnreadOut(msgspec.Struct):
    unread: int
