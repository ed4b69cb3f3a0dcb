"""People and their exchange connections."""

import enum
from dataclasses import dataclass, field
from datetime import datetime

from mimic.domain.guardrails import GuardrailSettings
from mimic.domain.protection import ProtectionSettings
from mimic.domain.risk import FollowerRiskSettings, UserCaps

PAPER_EXCHANGE = "paper"


class Role(enum.StrEnum):
    USER = "user"
    ADMIN = "admin"


@dataclass(slots=True)
class User:
    id: str
    username: str
    email: str
    password_hash: str
    role: Role
    created_at: datetime
    active: bool = True
    settings: FollowerRiskSettings = field(default_factory=FollowerRiskSettings)
    caps: UserCaps = field(default_factory=UserCaps)
    # Shared by the user to bring others in; `referred_by` is the referrer's user id.
    referral_code: str | None = None
    referred_by: str | None = None
    # Part of every access token; raising it revokes all tokens issued before.
    token_version: int = 0
    failed_logins: int = 0
    locked_until: datetime | None = None
    # Soft delete: the row (and its trade history) stays, the person can no longer sign in.
    deleted_at: datetime | None = None
    protection: ProtectionSettings = field(default_factory=ProtectionSettings)
    guardrails: GuardrailSettings = field(default_factory=GuardrailSettings)
    leaderboard_opt_out: bool = False

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    def revoke_tokens(self) -> None:
        self.token_version += 1


class ConnectionStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class ValidationStatus(enum.StrEnum):
    """What the background check of a connection's credentials found so far."""

    UNCHECKED = "unchecked"  # not checked yet, or the exchange could not be reached
    VALID = "valid"
    INVALID = "invalid"


@dataclass(slots=True)
class ExchangeAccount:
    """A follower's connection to one exchange account."""

    id: str
    user_id: str
    exchange: str
    label: str
    created_at: datetime
    status: ConnectionStatus = ConnectionStatus.PENDING
    enabled: bool = True
    api_key_masked: str | None = None
    status_reason: str | None = None
    validation_status: ValidationStatus = ValidationStatus.UNCHECKED
    validation_detail: str | None = None
    validated_at: datetime | None = None  # the last check's time, whatever its outcome


@dataclass(frozen=True, slots=True)
class ApiCredentials:
    """Decrypted only for the moment a request is signed; never logged (repr hides it)."""

    api_key: str = field(repr=False)
    api_secret: str = field(repr=False)
    password: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class AccountCheck:
    """What a credentials validation found on the exchange."""

    ok: bool
    detail: str
    futures_enabled: bool | None = None
    can_trade: bool | None = None
    hedge_mode: bool | None = None
    # What the API key itself may do, where the exchange tells (None: unknown). A master's
    # key is expected to allow neither (domain.master_fills.permission_warning).
    key_can_trade: bool | None = None
    key_can_withdraw: bool | None = None


def mask_api_key(api_key: str) -> str:
    """Enough to recognise a key, never enough to use it."""
    if len(api_key) <= 8:
        return "*" * len(api_key)
    return f"{api_key[:4]}...{api_key[-4:]}"


class TradeDirection(enum.StrEnum):
    """Which side of the market a source's followers copy (domain.alerts applies it)."""

    BOTH = "both"
    LONG_ONLY = "long_only"
    SHORT_ONLY = "short_only"


@dataclass(slots=True)
class SignalSource:
    """A master whose alerts are copied; found by the hash of its webhook passphrase."""

    id: str
    name: str
    passphrase_hash: str
    active: bool = True
    direction: TradeDirection = TradeDirection.BOTH
