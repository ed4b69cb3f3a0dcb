"""Wire shapes of the accounts API: passwords, admin user management, audit, messages."""

from decimal import Decimal
from typing import Annotated, Literal

import msgspec

from mimic.domain.payments import MAX_GRANT_DAYS
from mimic.entrypoints.http.profile.schemas import FollowerSettingsOut


class PasswordChangeRequest(msgspec.Struct, forbid_unknown_fields=True):
    current_password: str
    new_password: str


class ForgotPasswordRequest(msgspec.Struct, forbid_unknown_fields=True):
    email: str


class ResetPasswordRequest(msgspec.Struct, forbid_unknown_fields=True):
    token: str
    new_password: str


class Accepted(msgspec.Struct):
    detail: str


class UserCapsOut(msgspec.Struct):
    max_risk_perc: Decimal | None
    max_leverage: int | None


class AdminUserOut(msgspec.Struct):
    id: str
    username: str
    email: str
    role: str
    active: bool
    settings: FollowerSettingsOut
    caps: UserCapsOut
    created_at: str
    deleted_at: str | None
    locked_until: str | None
    failed_logins: int
    referral_code: str | None
    referred_by: str | None


class UserPageOut(msgspec.Struct):
    users: list[AdminUserOut]
    total: int
    offset: int
    limit: int


Role = Literal["user", "admin"]


class SubscriptionGrant(msgspec.Struct, forbid_unknown_fields=True):
    """Grant or extend by `days`; `plan` (id or name) defaults to the user's current plan."""

    days: Annotated[int, msgspec.Meta(ge=1, le=MAX_GRANT_DAYS)]
    plan: str | None = None


class AdminUserPatch(msgspec.Struct, forbid_unknown_fields=True):
    """Absent fields stay; null max_risk_perc/max_leverage removes the per-user cap."""

    role: Role | msgspec.UnsetType = msgspec.UNSET
    active: bool | msgspec.UnsetType = msgspec.UNSET
    paused: bool | msgspec.UnsetType = msgspec.UNSET
    max_risk_perc: Decimal | msgspec.UnsetType | None = msgspec.UNSET
    max_leverage: int | msgspec.UnsetType | None = msgspec.UNSET
    subscription: SubscriptionGrant | msgspec.UnsetType = msgspec.UNSET


class AuditEventOut(msgspec.Struct):
    id: str
    at: str
    action: str
    actor_id: str | None
    target: str | None
    ip: str | None
    details: dict[str, str]


class RegisterRequest(msgspec.Struct, forbid_unknown_fields=True):
    username: str
    email: str
    password: str
    referral_code: str | None = None


class LoginRequest(msgspec.Struct):
    username: str
    password: str


class TokenResponse(msgspec.Struct):
    access_token: str
    token_type: str = "bearer"  # noqa: S105
