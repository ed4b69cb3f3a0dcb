"""Wire shape of the webhook's answer."""

import msgspec


class WebhookAccepted(msgspec.Struct):
    signal_id: str
    duplicate: bool
