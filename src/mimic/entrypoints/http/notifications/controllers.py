"""Notification settings, Telegram linking and webhook, the panic switch (API.md additions)."""

import hmac
from typing import Any

import msgspec
from dishka.integrations.litestar import FromDishka
from litestar import Controller, Request, Response, delete, get, post, put
from litestar.exceptions import HTTPException
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT

from mimic.application.panic import (
    PauseCopying,
    PullPanic,
    ResumeCopying,
    SetUpPanicOtp,
    ViewPanicRuns,
)
from mimic.application.telegram_bot import (
    AnswerBotMessage,
    ManageNotifications,
    NotificationSettings,
)
from mimic.domain.panic import PanicRun
from mimic.entrypoints.config import Settings
from mimic.entrypoints.http.contract import errors
from mimic.entrypoints.http.notifications.schemas import (
    CopyingOut,
    EventChannelsOut,
    NotificationChoices,
    NotificationSettingsOut,
    OtpRequest,
    PanicAccountOut,
    PanicRunOut,
    PanicSetupOut,
    TelegramLinkOut,
)
from mimic.entrypoints.http.security import AuthRequest, admin_only
from mimic.entrypoints.http.web_security import client_ip
from mimic.ports.notifications import ChatUpdates

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
TELEGRAM_MAX_BODY = 256 * 1024


def _settings_out(value: NotificationSettings) -> NotificationSettingsOut:
    return NotificationSettingsOut(
        telegram_linked=value.telegram_linked,
        telegram_available=value.telegram_available,
        events=[
            EventChannelsOut(
                event=event, channels=sorted(channels), default=event not in value.chosen
            )
            for event, channels in value.channels.items()
        ],
    )


def _run_out(run: PanicRun, copying_paused: bool) -> PanicRunOut:
    return PanicRunOut(
        id=run.id,
        status=run.status.value,
        actor_id=run.actor_id,
        started_at=run.started_at.isoformat(),
        finished_at=run.finished_at.isoformat() if run.finished_at else None,
        copying_paused=copying_paused,
        accounts=[
            PanicAccountOut(
                exchange_account_id=a.account_id,
                user_id=a.user_id,
                exchange=a.exchange,
                closed=a.closed,
                failed=a.failed,
                pending=a.pending,
                error=a.error,
                summary=a.summary,
            )
            for a in run.accounts
        ],
    )


def _ip(request: Request[Any, Any, Any], settings: Settings) -> str:
    return client_ip(request, settings.trusted_proxies)


class MyNotificationsController(Controller):
    path = "/api/me"

    @get("/notifications", operation_id="my_notifications")
    async def settings(
        self, request: AuthRequest, manage: FromDishka[ManageNotifications]
    ) -> NotificationSettingsOut:
        return _settings_out(await manage.settings(request.user.id))

    @put("/notifications", operation_id="choose_my_notifications")
    async def choose(
        self,
        request: AuthRequest,
        data: JSONBody[NotificationChoices],
        manage: FromDishka[ManageNotifications],
    ) -> NotificationSettingsOut:
        return _settings_out(await manage.choose(request.user.id, data.events))

    @post("/telegram/link", operation_id="link_telegram", status_code=HTTP_200_OK)
    async def link(
        self, request: AuthRequest, manage: FromDishka[ManageNotifications]
    ) -> TelegramLinkOut:
        offer = await manage.offer_link(request.user.id)
        return TelegramLinkOut(
            code=offer.code,
            deep_link=offer.deep_link,
            start_command=f"/start {offer.code}",
            expires_in_seconds=offer.expires_in_seconds,
        )

    @delete(
        "/telegram",
        operation_id="unlink_telegram",
        status_code=HTTP_204_NO_CONTENT,
        responses=errors(404),
    )
    async def unlink(self, request: AuthRequest, manage: FromDishka[ManageNotifications]) -> None:
        await manage.unlink(request.user.id)


class TelegramWebhookController(Controller):
    """Telegram's webhook mode: the reply rides on the response (no extra API call)."""

    path = "/api/telegram/webhook"

    @post(
        "/",
        operation_id="telegram_webhook",
        request_max_body_size=TELEGRAM_MAX_BODY,
        status_code=HTTP_200_OK,
        responses=errors(401),
    )
    async def receive(
        self,
        request: Request[Any, Any, Any],
        settings: FromDishka[Settings],
        answer: FromDishka[AnswerBotMessage],
        updates: FromDishka[ChatUpdates],
    ) -> Response[dict[str, Any]]:
        expected = settings.telegram_webhook_secret
        given = request.headers.get(SECRET_HEADER, "")
        if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
            raise HTTPException(status_code=401, detail="wrong or missing secret token")
        try:
            update = msgspec.json.decode(await request.body())
        except msgspec.DecodeError:
            raise HTTPException(status_code=400, detail="body is not valid JSON") from None
        message = updates.chat_message(update)
        reply = None if message is None else await answer(message)
        if message is None or reply is None:
            return Response({}, status_code=HTTP_200_OK)  # nothing to say
        return Response(
            {"method": "sendMessage", "chat_id": message.chat_id, "text": reply},
            status_code=HTTP_200_OK,
        )


class PanicController(Controller):
    path = "/api/admin"

    @post("/panic", operation_id="pull_panic", status_code=HTTP_200_OK, guards=[admin_only])
    async def panic(
        self,
        request: AuthRequest,
        data: JSONBody[OtpRequest],
        pull: FromDishka[PullPanic],
        settings: FromDishka[Settings],
    ) -> PanicRunOut:
        run = await pull(request.user, data.otp, ip=_ip(request, settings), via="http")
        return _run_out(run, copying_paused=True)

    @get("/panic/setup", operation_id="panic_setup", guards=[admin_only], responses=errors(409))
    async def setup(
        self,
        request: AuthRequest,
        setup: FromDishka[SetUpPanicOtp],
        settings: FromDishka[Settings],
    ) -> PanicSetupOut:
        uri = await setup.provisioning_uri(request.user, ip=_ip(request, settings))
        return PanicSetupOut(provisioning_uri=uri)

    @post(
        "/panic/setup",
        operation_id="confirm_panic_setup",
        status_code=HTTP_204_NO_CONTENT,
        guards=[admin_only],
        responses=errors(409),
    )
    async def confirm_setup(
        self,
        request: AuthRequest,
        data: JSONBody[OtpRequest],
        setup: FromDishka[SetUpPanicOtp],
        settings: FromDishka[Settings],
    ) -> None:
        await setup.confirm(request.user, data.otp, ip=_ip(request, settings))

    @get("/panic/{run_id:str}", operation_id="get_panic_run", guards=[admin_only])
    async def get_run(
        self,
        run_id: FromPath[str],
        view: FromDishka[ViewPanicRuns],
        copying: FromDishka[ResumeCopying],
    ) -> PanicRunOut:
        return _run_out(await view(run_id), copying_paused=await copying.paused())

    @get("/copying", operation_id="copying_state", guards=[admin_only])
    async def copying_state(self, copying: FromDishka[ResumeCopying]) -> CopyingOut:
        return CopyingOut(copying_paused=await copying.paused())

    @post(
        "/copying/resume",
        operation_id="resume_copying",
        status_code=HTTP_200_OK,
        guards=[admin_only],
    )
    async def resume(
        self,
        request: AuthRequest,
        resume: FromDishka[ResumeCopying],
        settings: FromDishka[Settings],
    ) -> CopyingOut:
        await resume(request.user, ip=_ip(request, settings))
        return CopyingOut(copying_paused=False)

    @post(
        "/copying/pause",
        operation_id="pause_copying",
        status_code=HTTP_200_OK,
        guards=[admin_only],
    )
    async def pause(
        self,
        request: AuthRequest,
        pause: FromDishka[PauseCopying],
        settings: FromDishka[Settings],
    ) -> CopyingOut:
        """No follower's new entries are copied until resumed; closes and exits still are."""
        await pause(request.user, ip=_ip(request, settings))
        return CopyingOut(copying_paused=True)


NOTIFICATION_ROUTE_HANDLERS = [
    MyNotificationsController,
    TelegramWebhookController,
    PanicController,
]
