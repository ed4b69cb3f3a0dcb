"""Wire shapes of the sources a follower copies."""

from decimal import Decimal

import msgspec

from mimic.entrypoints.http.profile.schemas import Leverage
from mimic.entrypoints.http.sources.schemas import Direction


class FollowableSourceOut(msgspec.Struct):
    id: str
    name: str
    direction: Direction


class FollowIn(msgspec.Struct, forbid_unknown_fields=True):
    """Absent or null risk_perc/leverage: the follower's own settings apply; absent or
    null multiplier: 1 (it scales entries copied from a master's exchange account)."""

    source_id: str
    risk_perc: Decimal | None = None
    leverage: Leverage | None = None
    direction: Direction = "both"
    multiplier: Decimal | None = None


class FollowOut(msgspec.Struct):
    source_id: str
    risk_perc: Decimal | None
    leverage: int | None
    direction: Direction
    multiplier: Decimal | None
