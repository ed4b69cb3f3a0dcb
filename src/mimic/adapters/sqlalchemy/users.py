"""The user repository on SQLAlchemy Core: rows are mapped to domain objects and never leak.

Every repository shares the request's `AsyncSession`; the caller commits through the
`TransactionManager`.
"""

import builtins
from collections.abc import Collection
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from operator import itemgetter
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mimic.adapters.sqlalchemy.statements import _chunks
from mimic.adapters.sqlalchemy.tables import NamedRow, users
from mimic.domain.accounts import Role, User
from mimic.domain.errors import Conflict
from mimic.domain.guardrails import GuardrailSettings
from mimic.domain.protection import DcaSettings, ProtectionSettings, TrailingSettings
from mimic.domain.risk import FollowerRiskSettings, UserCaps
from mimic.ports.repositories import UserRepository


def _user_values(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "email": user.email,
        "password_hash": user.password_hash,
        "role": user.role.value,
        "active": user.active,
        "risk_perc": user.settings.risk_perc,
        "leverage": user.settings.leverage,
        "paused": user.settings.paused,
        "max_risk_perc": user.caps.max_risk_perc,
        "max_leverage": user.caps.max_leverage,
        "created_at": user.created_at,
        "referral_code": user.referral_code,
        "referred_by": user.referred_by,
        "token_version": user.token_version,
        "failed_logins": user.failed_logins,
        "locked_until": user.locked_until,
        "deleted_at": user.deleted_at,
        **_protection_values(user.protection),
        "guard_drawdown_perc": user.guardrails.drawdown_stop_perc,
        "guard_close_all": user.guardrails.close_all_on_drawdown,
        "guard_profit_lock_perc": user.guardrails.profit_lock_perc,
        "leaderboard_opt_out": user.leaderboard_opt_out,
    }


def _protection_values(settings: ProtectionSettings) -> dict[str, Any]:
    trailing, dca = settings.trailing, settings.dca
    return {
        "tp_perc": settings.tp_perc,
        "sl_perc": settings.sl_perc,
        "trailing_enabled": trailing.enabled,
        "trailing_activation_perc": trailing.activation_perc,
        "trailing_callback_perc": trailing.callback_perc,
        "dca_enabled": dca.enabled,
        "dca_trigger_drawdown_perc": dca.trigger_drawdown_perc,
        "dca_size_multiplier": dca.size_multiplier,
        "dca_max_adds": dca.max_adds,
        "dca_spacing_perc": dca.spacing_perc,
        "dca_spacing_seconds": dca.spacing_seconds,
    }


def _protection(row: NamedRow) -> ProtectionSettings:
    return _shared_protection(*_protection_columns(row))


# The row's protection settings in one C call (a fan-out reads a user per follower).
_protection_columns = itemgetter(
    "tp_perc",
    "sl_perc",
    "trailing_enabled",
    "trailing_activation_perc",
    "trailing_callback_perc",
    "dca_enabled",
    "dca_trigger_drawdown_perc",
    "dca_size_multiplier",
    "dca_max_adds",
    "dca_spacing_perc",
    "dca_spacing_seconds",
)


# A user's settings are frozen values: users with the same ones share one object. A fan-out
# reads thousands of users, mostly on the defaults, and building their settings objects
# was most of the cost of reading a user.
@lru_cache(maxsize=4096, typed=True)
def _shared_protection(
    tp_perc: Decimal | None,
    sl_perc: Decimal | None,
    trailing_enabled: bool,
    trailing_activation_perc: Decimal | None,
    trailing_callback_perc: Decimal | None,
    dca_enabled: bool,
    dca_trigger_drawdown_perc: Decimal | None,
    dca_size_multiplier: Decimal | None,
    dca_max_adds: int | None,
    dca_spacing_perc: Decimal | None,
    dca_spacing_seconds: int | None,
) -> ProtectionSettings:
    return ProtectionSettings(
        tp_perc=tp_perc,
        sl_perc=sl_perc,
        trailing=TrailingSettings(
            enabled=trailing_enabled,
            activation_perc=trailing_activation_perc,
            callback_perc=trailing_callback_perc,
        ),
        dca=DcaSettings(
            enabled=dca_enabled,
            trigger_drawdown_perc=dca_trigger_drawdown_perc,
            size_multiplier=dca_size_multiplier,
            max_adds=dca_max_adds,
            spacing_perc=dca_spacing_perc,
            spacing_seconds=dca_spacing_seconds,
        ),
    )


_shared_risk = lru_cache(maxsize=4096, typed=True)(FollowerRiskSettings)
_shared_caps = lru_cache(maxsize=4096, typed=True)(UserCaps)
_shared_guardrails = lru_cache(maxsize=4096, typed=True)(GuardrailSettings)


def _user(row: NamedRow) -> User:
    return User(
        id=row["id"],
        username=row["username"],
        email=row["email"],
        password_hash=row["password_hash"],
        role=Role(row["role"]),
        created_at=row["created_at"],
        active=row["active"],
        settings=_shared_risk(row["risk_perc"], row["leverage"], row["paused"]),
        caps=_shared_caps(row["max_risk_perc"], row["max_leverage"]),
        referral_code=row["referral_code"],
        referred_by=row["referred_by"],
        token_version=row["token_version"],
        failed_logins=row["failed_logins"],
        locked_until=row["locked_until"],
        deleted_at=row["deleted_at"],
        protection=_protection(row),
        guardrails=_shared_guardrails(
            row["guard_drawdown_perc"], row["guard_close_all"], row["guard_profit_lock_perc"]
        ),
        leaderboard_opt_out=row["leaderboard_opt_out"],
    )


class SqlUserRepository(UserRepository):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, user: User) -> None:
        await self._write(user, users.insert().values(_user_values(user)))

    async def get(self, user_id: str) -> User | None:
        return await self._one(users.c.id == user_id)

    async def get_by_username(self, username: str) -> User | None:
        return await self._one(users.c.username == username)

    async def get_by_referral_code(self, code: str) -> User | None:
        return await self._one(users.c.referral_code == code)

    async def usernames(self, user_ids: Collection[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for chunk in _chunks(sorted(set(user_ids))):
            rows = await self._session.execute(
                select(users.c.id, users.c.username).where(users.c.id.in_(chunk))
            )
            found.update({row.id: row.username for row in rows})
        return found

    async def save(self, user: User) -> None:
        values = _user_values(user)
        del values["id"], values["created_at"]
        await self._write(user, update(users).where(users.c.id == user.id).values(values))

    async def _write(self, user: User, statement: Any) -> None:
        await self._raise_if_taken(user)
        try:
            await self._session.execute(statement)
        except IntegrityError:
            # A concurrent registration won the race between check and write. Postgres has
            # aborted the transaction: roll back, then the winner's row is visible to name.
            await self._session.rollback()
            await self._raise_if_taken(user)
            raise

    async def _raise_if_taken(self, user: User) -> None:
        taken = (
            await self._session.execute(
                select(func.lower(users.c.username)).where(
                    or_(
                        func.lower(users.c.username) == user.username.lower(),
                        func.lower(users.c.email) == user.email.lower(),
                    ),
                    users.c.id != user.id,
                )
            )
        ).scalars()
        names = set(taken)
        if user.username.lower() in names:
            raise Conflict("username is taken")
        if names:
            raise Conflict("email is already registered")

    async def _one(self, condition: Any) -> User | None:
        row = (await self._session.execute(select(users).where(condition))).mappings().first()
        return None if row is None else _user(row)

    async def list(self, *, offset: int = 0, limit: int = 100) -> list[User]:
        result = await self._session.execute(
            select(users).order_by(users.c.created_at, users.c.id).offset(offset).limit(limit)
        )
        return [_user(row) for row in result.mappings()]

    async def get_by_email(self, email: str) -> User | None:
        return await self._one(func.lower(users.c.email) == email.lower())

    async def count_failed_login(self, user_id: str) -> int:
        c = users.c
        count = await self._session.scalar(
            update(users)
            .where(c.id == user_id)
            .values(failed_logins=c.failed_logins + 1)
            .returning(c.failed_logins)
        )
        return int(count or 0)

    async def set_sign_in_state(
        self,
        user_id: str,
        *,
        failed_logins: int,
        locked_until: datetime | None,
        password_hash: str | None = None,
    ) -> None:
        values: dict[str, Any] = {"failed_logins": failed_logins, "locked_until": locked_until}
        if password_hash is not None:
            values["password_hash"] = password_hash
        await self._session.execute(update(users).where(users.c.id == user_id).values(values))

    async def search(
        self, *, query: str | None, offset: int, limit: int, include_deleted: bool = False
    ) -> tuple[builtins.list[User], int]:
        c = users.c
        conditions = []
        if query:
            wanted = query.lower()
            conditions.append(
                or_(
                    func.lower(c.username).contains(wanted, autoescape=True),
                    c.email.contains(wanted, autoescape=True),
                )
            )
        if not include_deleted:
            conditions.append(c.deleted_at.is_(None))
        page = select(users).where(*conditions).order_by(c.created_at, c.id)
        rows = await self._session.execute(page.offset(offset).limit(limit))
        total = await self._session.scalar(
            select(func.count()).select_from(users).where(*conditions)
        )
        return [_user(row) for row in rows.mappings()], int(total or 0)
