"""Wire shapes of exchange connections."""

import msgspec


class ConnectExchangeRequest(msgspec.Struct, forbid_unknown_fields=True):
    exchange: str
    api_key: str | None = None
    api_secret: str | None = None
    password: str | None = None
    label: str | None = None


class ExchangeOut(msgspec.Struct):
    id: str
    user_id: str
    exchange: str
    label: str
    status: str
    enabled: bool
    api_key_masked: str | None
    status_reason: str | None
    created_at: str
    validation_status: str = "unchecked"
    validation_detail: str | None = None
    validated_at: str | None = None


class EnablePatch(msgspec.Struct, forbid_unknown_fields=True):
    enabled: bool
