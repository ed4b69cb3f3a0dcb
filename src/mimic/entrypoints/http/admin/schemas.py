"""Wire shapes of the admin routes: platform settings, paper prices, the monitor."""

from decimal import Decimal
from typing import Annotated

import msgspec

from mimic.entrypoints.http.contract import NOT_BLANK
from mimic.entrypoints.http.profile.schemas import Leverage


class RejectRequest(msgspec.Struct):
    reason: Annotated[str, msgspec.Meta(pattern=NOT_BLANK)]


class PlatformSettingsBody(msgspec.Struct, forbid_unknown_fields=True):
    default_risk_perc: Decimal
    default_leverage: Leverage
    max_risk_perc: Decimal
    max_leverage: Leverage


class PaperPriceRequest(msgspec.Struct):
    price: Decimal


class PaperPriceOut(msgspec.Struct):
    symbol: str
    price: Decimal


class MonitorRunOut(msgspec.Struct):
    """What one round of the position monitor did (ids of the orders it recorded)."""

    positions: int
    trailing_closes: list[str]
    dca_adds: list[str]
    protection_fills: list[str]
