"""Internal messaging between a user and the admins (one thread per conversation)."""

from dataclasses import dataclass
from datetime import datetime

MAX_BODY_LENGTH = 5000
MAX_SUBJECT_LENGTH = 200


@dataclass(slots=True)
class MessageThread:
    """A conversation between one user and the admins as a group."""

    id: str
    user_id: str
    subject: str
    created_at: datetime
    updated_at: datetime


@dataclass(slots=True)
class Message:
    """`from_admin` tells the side: admins read what users wrote and the other way round."""

    id: str
    thread_id: str
    sender_id: str
    from_admin: bool
    body: str
    created_at: datetime
    read_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ThreadSummary:
    thread: MessageThread
    unread: int
    messages: int
