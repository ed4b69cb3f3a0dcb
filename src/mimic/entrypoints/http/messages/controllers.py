"""Messages between followers and the admins, in threads."""

from typing import Annotated

from dishka.integrations.litestar import FromDishka
from litestar import Controller, get, post
from litestar.params import FromPath, JSONBody, Parameter

from mimic.application.messaging import Messaging, NewThread, ThreadView
from mimic.domain.messages import Message, ThreadSummary
from mimic.entrypoints.http.contract import Offset, errors, iso
from mimic.entrypoints.http.messages import schemas as wire
from mimic.entrypoints.http.security import AuthRequest


def _message(message: Message) -> wire.MessageOut:
    return wire.MessageOut(
        id=message.id,
        thread_id=message.thread_id,
        sender_id=message.sender_id,
        from_admin=message.from_admin,
        body=message.body,
        created_at=message.created_at.isoformat(),
        read_at=iso(message.read_at),
    )


def _thread(summary: ThreadSummary) -> wire.ThreadOut:
    thread = summary.thread
    return wire.ThreadOut(
        id=thread.id,
        user_id=thread.user_id,
        subject=thread.subject,
        created_at=thread.created_at.isoformat(),
        updated_at=thread.updated_at.isoformat(),
        unread=summary.unread,
        messages=summary.messages,
    )


def _thread_detail(view: ThreadView) -> wire.ThreadDetailOut:
    thread = view.thread
    return wire.ThreadDetailOut(
        id=thread.id,
        user_id=thread.user_id,
        subject=thread.subject,
        created_at=thread.created_at.isoformat(),
        updated_at=thread.updated_at.isoformat(),
        messages=[_message(m) for m in view.messages],
    )


class MessagesController(Controller):
    """A user writes to the admins; an admin writes to one user (`user_id`) or replies."""

    path = "/api/messages"

    @post("/", operation_id="send_message", status_code=201, responses=errors(404, 429))
    async def send(
        self,
        request: AuthRequest,
        data: JSONBody[wire.NewMessageRequest],
        messaging: FromDishka[Messaging],
    ) -> wire.ThreadDetailOut:
        view = await messaging.start(
            request.user, NewThread(body=data.body, subject=data.subject, to_user_id=data.user_id)
        )
        return _thread_detail(view)

    @get("/threads", operation_id="list_message_threads")
    async def threads(
        self,
        request: AuthRequest,
        messaging: FromDishka[Messaging],
        offset: Offset = 0,
        limit: Annotated[int, Parameter(ge=1, le=200)] = 50,
    ) -> list[wire.ThreadOut]:
        return [_thread(t) for t in await messaging.threads(request.user, offset, limit)]

    @get("/threads/{thread_id:str}", operation_id="get_message_thread")
    async def thread(
        self, request: AuthRequest, thread_id: FromPath[str], messaging: FromDishka[Messaging]
    ) -> wire.ThreadDetailOut:
        return _thread_detail(await messaging.thread(request.user, thread_id))

    @post(
        "/threads/{thread_id:str}/reply",
        operation_id="reply_message",
        status_code=201,
        responses=errors(429),
    )
    async def reply(
        self,
        request: AuthRequest,
        thread_id: FromPath[str],
        data: JSONBody[wire.ReplyRequest],
        messaging: FromDishka[Messaging],
    ) -> wire.MessageOut:
        return _message(await messaging.reply(request.user, thread_id, data.body))

    @post("/threads/{thread_id:str}/read", operation_id="mark_thread_read", status_code=200)
    async def mark_read(
        self, request: AuthRequest, thread_id: FromPath[str], messaging: FromDishka[Messaging]
    ) -> wire.UnreadOut:
        await messaging.mark_read(request.user, thread_id)
        return wire.UnreadOut(unread=await messaging.unread(request.user))

    @get("/unread", operation_id="unread_messages")
    async def unread(
        self, request: AuthRequest, messaging: FromDishka[Messaging]
    ) -> wire.UnreadOut:
        return wire.UnreadOut(unread=await messaging.unread(request.user))
