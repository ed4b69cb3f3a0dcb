"""Wire shapes of notification settings, Telegram linking and the panic switch."""

from typing import Annotated

import msgspec
from litestar.openapi.spec import OpenAPIType, Schema

from mimic.domain.notifications import EVENTS, Channel

# Litestar passes "extra" on to the document: event names as keys, channels as values.
_EVENT_CHOICES = {
    "extra": {
        "property_names": Schema(enum=list(EVENTS)),
        "additional_properties": Schema(
            type=OpenAPIType.ARRAY, items=Schema(enum=[channel.value for channel in Channel])
        ),
    }
}


class EventChannelsOut(msgspec.Struct):
    event: str
    channels: list[str]
    default: bool


class NotificationSettingsOut(msgspec.Struct):
    telegram_linked: bool
    telegram_available: bool
    events: list[EventChannelsOut]


class NotificationChoices(msgspec.Struct, forbid_unknown_fields=True):
    """Per event key, the channels to use ([] for none); events not named stay as they are."""

    events: Annotated[dict[str, list[str]], msgspec.Meta(extra_json_schema=_EVENT_CHOICES)]


class TelegramLinkOut(msgspec.Struct):
    code: str
    deep_link: str | None
    start_command: str
    expires_in_seconds: int


class OtpRequest(msgspec.Struct, forbid_unknown_fields=True):
    otp: str


class PanicAccountOut(msgspec.Struct):
    exchange_account_id: str
    user_id: str
    exchange: str
    closed: list[str]
    failed: dict[str, str]
    pending: list[str]
    error: str | None
    summary: str


class PanicRunOut(msgspec.Struct):
    id: str
    status: str
    actor_id: str
    started_at: str
    finished_at: str | None
    copying_paused: bool
    accounts: list[PanicAccountOut]


class PanicSetupOut(msgspec.Struct):
    provisioning_uri: str


class CopyingOut(msgspec.Struct):
    copying_paused: bool
