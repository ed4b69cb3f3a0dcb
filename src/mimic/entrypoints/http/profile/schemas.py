"""Wire shapes of a follower's profile and settings."""

from decimal import Decimal
from typing import Annotated

import msgspec

from mimic.domain.signal import MAX_LEVERAGE


class TrailingSettingsOut(msgspec.Struct):
    enabled: bool
    activation_perc: Decimal | None
    callback_perc: Decimal | None


class DcaSettingsOut(msgspec.Struct):
    enabled: bool
    trigger_drawdown_perc: Decimal | None
    size_multiplier: Decimal | None
    max_adds: int | None
    spacing_perc: Decimal | None
    spacing_seconds: int | None


class FollowerSettingsOut(msgspec.Struct):
    risk_perc: Decimal | None
    leverage: int | None
    paused: bool
    tp_perc: Decimal | None
    sl_perc: Decimal | None
    trailing: TrailingSettingsOut
    dca: DcaSettingsOut
    # Daily guardrails and the leaderboard (docs/follower-guide.md, "Daily risk guardrails")
    drawdown_stop_perc: Decimal | None = None
    close_all_on_drawdown: bool = False
    profit_lock_perc: Decimal | None = None
    leaderboard_opt_out: bool = False


class CapsOut(msgspec.Struct):
    max_risk_perc: Decimal
    max_leverage: int


class ProfileOut(msgspec.Struct):
    id: str
    username: str
    email: str
    role: str
    active: bool
    settings: FollowerSettingsOut
    caps: CapsOut
    referral_code: str | None = None


class TrailingPatch(msgspec.Struct, forbid_unknown_fields=True):
    enabled: bool | msgspec.UnsetType = msgspec.UNSET
    activation_perc: Decimal | msgspec.UnsetType | None = msgspec.UNSET
    callback_perc: Decimal | msgspec.UnsetType | None = msgspec.UNSET


class DcaPatch(msgspec.Struct, forbid_unknown_fields=True):
    enabled: bool | msgspec.UnsetType = msgspec.UNSET
    trigger_drawdown_perc: Decimal | msgspec.UnsetType | None = msgspec.UNSET
    size_multiplier: Decimal | msgspec.UnsetType | None = msgspec.UNSET
    max_adds: int | msgspec.UnsetType | None = msgspec.UNSET
    spacing_perc: Decimal | msgspec.UnsetType | None = msgspec.UNSET
    spacing_seconds: int | msgspec.UnsetType | None = msgspec.UNSET


class SettingsPatch(msgspec.Struct, forbid_unknown_fields=True):
    """Absent fields stay as they are; null risk_perc/leverage means "use the defaults"."""

    risk_perc: Decimal | msgspec.UnsetType | None = msgspec.UNSET
    leverage: int | msgspec.UnsetType | None = msgspec.UNSET
    paused: bool | msgspec.UnsetType = msgspec.UNSET
    # Position protection; null = no default (TP/SL) or not set.
    tp_perc: Decimal | msgspec.UnsetType | None = msgspec.UNSET
    sl_perc: Decimal | msgspec.UnsetType | None = msgspec.UNSET
    trailing: TrailingPatch | msgspec.UnsetType = msgspec.UNSET
    dca: DcaPatch | msgspec.UnsetType = msgspec.UNSET
    drawdown_stop_perc: Decimal | msgspec.UnsetType | None = msgspec.UNSET
    close_all_on_drawdown: bool | msgspec.UnsetType = msgspec.UNSET
    profit_lock_perc: Decimal | msgspec.UnsetType | None = msgspec.UNSET
    leaderboard_opt_out: bool | msgspec.UnsetType = msgspec.UNSET

    def protection_changes(self) -> dict[str, object]:
        """The protection fields given, by dotted name ("trailing.enabled")."""
        changes: dict[str, object] = {
            name: getattr(self, name)
            for name in ("tp_perc", "sl_perc")
            if getattr(self, name) is not msgspec.UNSET
        }
        for group in ("trailing", "dca"):
            nested = getattr(self, group)
            if nested is msgspec.UNSET:
                continue
            for name in nested.__struct_fields__:
                value = getattr(nested, name)
                if value is not msgspec.UNSET:
                    changes[f"{group}.{name}"] = value
        return changes


Leverage = Annotated[int, msgspec.Meta(ge=1, le=MAX_LEVERAGE)]
