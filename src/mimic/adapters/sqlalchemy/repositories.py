"""Repository ports on SQLAlchemy Core: rows are mapped to domain objects and never leak.

Every repository shares the request's `AsyncSession`; the caller commits through the
`TransactionManager`. Statements that must be safe under concurrency (signal dedupe,
intent claims) rely on a unique constraint or a compare-and-set UPDATE, not on a prior read.
"""

import builtins
import json
from collections.abc import Collection, Iterator, Sequence
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any, TypeVar

from sqlalchemy import (
    Column,
    ColumnElement,
    Dialect,
    Table,
    and_,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mimic.adapters.sqlalchemy.bulk import insert_rows, one_of, update_rows
from mimic.adapters.sqlalchemy.history import history_filters
from mimic.adapters.sqlalchemy.tables import (
    NamedRow,
    exchange_accounts,
    order_intents,
    platform_settings,
    users,
)
from mimic.domain.accounts import (
    ConnectionStatus,
    ExchangeAccount,
    Role,
    User,
    ValidationStatus,
)
from mimic.domain.errors import Conflict
from mimic.domain.fanout import FanoutPart
from mimic.domain.guardrails import GuardrailSettings
from mimic.domain.orders import (
    NO_FILTERS,
    IntentStatus,
    OrderFilters,
    OrderIntent,
    OrderLeg,
    OrderSide,
)
from mimic.domain.protection import DcaSettings, ProtectionSettings, TrailingSettings
from mimic.domain.risk import FollowerRiskSettings, PlatformRiskSettings, UserCaps
from mimic.ports.repositories import (
    ExchangeAccountRepository,
    OrderIntentRepository,
    SettingsRepository,
    TransactionManager,
    UserRepository,
)

# Bound parameters per statement stay far below SQLite's and asyncpg's limits.
CHUNK_SIZE = 500

T = TypeVar("T")


def _chunks(items: Sequence[T], size: int = CHUNK_SIZE) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _dialect(session: AsyncSession) -> Dialect:
    return session.get_bind().dialect


def _insert(session: AsyncSession, table: Table) -> postgresql.Insert | sqlite.Insert:
    """The dialect's INSERT, which knows ON CONFLICT (both spell it the same way)."""
    if _dialect(session).name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


class SqlTransactionManager(TransactionManager):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def commit(self) -> None:
        await self._session.commit()

    async def rollback(self) -> None:
        await self._session.rollback()


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
    return _shared_protection(*(row[name] for name in _PROTECTION_COLUMNS))


_PROTECTION_COLUMNS = (
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


def _in_part(account_id: Column[str], part: FanoutPart) -> list[ColumnElement[bool]]:
    """The conditions that hold `account_id` to the part's range (FanoutPart.holds)."""
    conditions = []
    if part.low is not None:
        conditions.append(account_id >= part.low)
    if part.high is not None:
        conditions.append(account_id < part.high)
    return conditions


def _account_values(account: ExchangeAccount) -> dict[str, Any]:
    return {
        "id": account.id,
        "user_id": account.user_id,
        "exchange": account.exchange,
        "label": account.label,
        "status": account.status.value,
        "enabled": account.enabled,
        "api_key_masked": account.api_key_masked,
        "status_reason": account.status_reason,
        "created_at": account.created_at,
    }


def _account(row: NamedRow) -> ExchangeAccount:
    return ExchangeAccount(
        id=row["id"],
        user_id=row["user_id"],
        exchange=row["exchange"],
        label=row["label"],
        created_at=row["created_at"],
        status=ConnectionStatus(row["status"]),
        enabled=row["enabled"],
        api_key_masked=row["api_key_masked"],
        status_reason=row["status_reason"],
        # Written only by SqlConnectionChecks (credentials.py), never by save().
        validation_status=ValidationStatus(row["validation_status"]),
        validation_detail=row["validation_detail"],
        validated_at=row["validated_at"],
    )


_ACCOUNT_COLUMNS = [column.name for column in exchange_accounts.c]
_USER_COLUMNS = [column.name for column in users.c]


class SqlExchangeAccountRepository(ExchangeAccountRepository):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, account: ExchangeAccount) -> None:
        await self._session.execute(exchange_accounts.insert().values(_account_values(account)))

    async def get(self, account_id: str) -> ExchangeAccount | None:
        found = await self._where(exchange_accounts.c.id == account_id)
        return found[0] if found else None

    async def get_many(self, account_ids: Collection[str]) -> list[ExchangeAccount]:
        found: list[ExchangeAccount] = []
        for chunk in _chunks(sorted(set(account_ids))):
            found.extend(
                await self._where(one_of(_dialect(self._session), exchange_accounts.c.id, chunk))
            )
        return found

    async def list_for_user(self, user_id: str) -> list[ExchangeAccount]:
        return await self._where(exchange_accounts.c.user_id == user_id)

    async def list_by_status(self, status: ConnectionStatus | None) -> list[ExchangeAccount]:
        if status is None:
            return await self._where(None)
        return await self._where(exchange_accounts.c.status == status.value)

    async def save(self, account: ExchangeAccount) -> None:
        values = _account_values(account)
        del values["id"], values["created_at"]
        await self._session.execute(
            update(exchange_accounts).where(exchange_accounts.c.id == account.id).values(values)
        )

    async def delete(self, account_id: str) -> None:
        await self._session.execute(
            delete(exchange_accounts).where(exchange_accounts.c.id == account_id)
        )

    async def list_copy_candidates(
        self, *, monitored_only: bool = False, part: FanoutPart | None = None
    ) -> list[tuple[ExchangeAccount, User]]:
        statement = (
            select(exchange_accounts, users)
            .join(users, users.c.id == exchange_accounts.c.user_id)
            .where(
                exchange_accounts.c.status == ConnectionStatus.APPROVED.value,
                users.c.active.is_(True),
            )
            .order_by(exchange_accounts.c.created_at, exchange_accounts.c.id)
        )
        if monitored_only:  # as ProtectionSettings.monitored says
            statement = statement.where(
                or_(users.c.trailing_enabled.is_(True), users.c.dca_enabled.is_(True))
            )
        if part is not None:
            statement = statement.where(*_in_part(exchange_accounts.c.id, part))
        result = await self._session.execute(statement)
        # Both tables have `id` and `created_at`: each half of a row is read by its own names.
        split = len(_ACCOUNT_COLUMNS)
        return [
            (
                _account(dict(zip(_ACCOUNT_COLUMNS, row[:split], strict=True))),
                _user(dict(zip(_USER_COLUMNS, row[split:], strict=True))),
            )
            for row in result
        ]

    async def _where(self, condition: Any) -> list[ExchangeAccount]:
        statement = select(exchange_accounts).order_by(
            exchange_accounts.c.created_at, exchange_accounts.c.id
        )
        if condition is not None:
            statement = statement.where(condition)
        return [_account(row) for row in (await self._session.execute(statement)).mappings()]


def _intent_values(intent: OrderIntent, lease_until: datetime | None) -> dict[str, Any]:
    return {
        "id": intent.id,
        "signal_id": intent.signal_id,
        "account_id": intent.account_id,
        "user_id": intent.user_id,
        "leg": intent.leg.value,
        "symbol": intent.symbol,
        "side": intent.side.value,
        "quantity": intent.quantity,
        "reduce_only": intent.reduce_only,
        "leverage": intent.leverage,
        "client_order_id": intent.client_order_id,
        "status": intent.status.value,
        "reason": intent.reason,
        "attempts": intent.attempts,
        "lease_until": lease_until,
        "exchange_order_id": intent.exchange_order_id,
        "filled_quantity": intent.filled_quantity,
        "average_price": intent.average_price,
        "fee": intent.fee,
        "created_at": intent.created_at,
        "updated_at": intent.updated_at,
        "parent_id": intent.parent_id,
        "tp_perc": intent.tp_perc,
        "sl_perc": intent.sl_perc,
        "stop_loss_price": intent.stop_loss_price,
        "take_profit_price": intent.take_profit_price,
        "protection_error": intent.protection_error,
        "acknowledged_at": intent.acknowledged_at,
    }


def _intent(row: NamedRow) -> OrderIntent:
    return OrderIntent(
        id=row["id"],
        signal_id=row["signal_id"],
        account_id=row["account_id"],
        user_id=row["user_id"],
        leg=OrderLeg(row["leg"]),
        symbol=row["symbol"],
        side=OrderSide(row["side"]),
        quantity=row["quantity"],
        reduce_only=row["reduce_only"],
        leverage=row["leverage"],
        client_order_id=row["client_order_id"],
        created_at=row["created_at"],
        status=IntentStatus(row["status"]),
        reason=row["reason"],
        attempts=row["attempts"],
        exchange_order_id=row["exchange_order_id"],
        filled_quantity=row["filled_quantity"],
        average_price=row["average_price"],
        fee=row["fee"],
        updated_at=row["updated_at"],
        parent_id=row["parent_id"],
        tp_perc=row["tp_perc"],
        sl_perc=row["sl_perc"],
        stop_loss_price=row["stop_loss_price"],
        take_profit_price=row["take_profit_price"],
        protection_error=row["protection_error"],
        acknowledged_at=row["acknowledged_at"],
    )


class SqlOrderIntentRepository(OrderIntentRepository):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add_new(
        self, intents: Sequence[OrderIntent], *, lease_until: datetime | None = None
    ) -> set[str]:
        c = order_intents.c
        rows = [
            _intent_values(i, lease_until if i.status is IntentStatus.SUBMITTING else None)
            for i in intents
        ]
        inserted = await insert_rows(
            self._session,
            order_intents,
            rows,
            on_conflict=[c.signal_id, c.account_id, c.leg],
            returning=c.id,
        )
        return set(inserted)

    async def list_for_signal(
        self, signal_id: str, *, part: FanoutPart | None = None
    ) -> list[OrderIntent]:
        c = order_intents.c
        statement = select(order_intents).where(c.signal_id == signal_id)
        if part is not None:
            statement = statement.where(*_in_part(c.account_id, part))
        return await self._select(statement.order_by(c.created_at, c.id))

    async def signals_in_hand(self, signal_ids: Collection[str], *, now: datetime) -> set[str]:
        c = order_intents.c
        held: set[str] = set()
        for chunk in _chunks(list(signal_ids)):
            statement = select(c.signal_id).where(c.signal_id.in_(chunk), c.lease_until > now)
            held.update(await self._session.scalars(statement.distinct()))
        return held

    async def list_for_user(
        self, user_id: str, *, limit: int, filters: OrderFilters = NO_FILTERS
    ) -> list[OrderIntent]:
        c = order_intents.c
        return await self._select(
            select(order_intents)
            .where(c.user_id == user_id, *history_filters(c, filters))
            .order_by(c.created_at.desc(), c.id.desc())
            .limit(limit)
        )

    async def claim(
        self, intent_ids: Sequence[str], *, now: datetime, lease_until: datetime
    ) -> list[OrderIntent]:
        c = order_intents.c
        returning = _dialect(self._session).update_returning
        claimed: list[OrderIntent] = []
        for chunk in _chunks(list(dict.fromkeys(intent_ids))):
            # Compare-and-set: of concurrent claimers only one sees its WHERE still true.
            claim = (
                update(order_intents)
                .where(
                    one_of(_dialect(self._session), c.id, chunk),
                    or_(
                        c.status == IntentStatus.PENDING.value,
                        and_(
                            c.status == IntentStatus.SUBMITTING.value,
                            or_(c.lease_until.is_(None), c.lease_until < now),
                        ),
                    ),
                )
                .values(
                    status=IntentStatus.SUBMITTING.value,
                    attempts=c.attempts + 1,
                    lease_until=lease_until,
                )
            )
            if returning:
                claimed += await self._select(claim.returning(*order_intents.c))
            else:  # SQLite before 3.35: the write lock is ours until commit, read it back
                await self._session.execute(claim)
                claimed += await self._select(
                    select(order_intents).where(
                        c.id.in_(chunk),
                        c.status == IntentStatus.SUBMITTING.value,
                        c.lease_until == lease_until,
                    )
                )
        position = {intent_id: n for n, intent_id in enumerate(intent_ids)}
        return sorted(claimed, key=lambda intent: position[intent.id])

    async def save_results(self, intents: Sequence[OrderIntent]) -> None:
        final = [self._result_values(i) for i in intents if i.status.is_final]
        unsettled = [self._result_values(i) for i in intents if not i.status.is_final]
        # A settled intent holds no lease; an unsettled one keeps its lease until it runs out.
        await update_rows(
            self._session, order_intents, final, key=["id", "attempts"], also={"lease_until": None}
        )
        await update_rows(self._session, order_intents, unsettled, key=["id", "attempts"])

    @staticmethod
    def _result_values(intent: OrderIntent) -> dict[str, Any]:
        """What save_results writes, keyed by id and attempts (the claim it comes from)."""
        return {
            "id": intent.id,
            "attempts": intent.attempts,
            "status": intent.status.value,
            "reason": intent.reason,
            "exchange_order_id": intent.exchange_order_id,
            "filled_quantity": intent.filled_quantity,
            "average_price": intent.average_price,
            "fee": intent.fee,
            "updated_at": intent.updated_at,
            "stop_loss_price": intent.stop_loss_price,
            "take_profit_price": intent.take_profit_price,
            "protection_error": intent.protection_error,
            "acknowledged_at": intent.acknowledged_at,
        }

    async def _select(self, statement: Any) -> list[OrderIntent]:
        return [_intent(row) for row in (await self._session.execute(statement)).mappings()]


PLATFORM_RISK_KEY = "platform_risk"
COPYING_PAUSED_KEY = "copying_paused"


class SqlSettingsRepository(SettingsRepository):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get_platform_risk(self) -> PlatformRiskSettings:
        raw = (
            await self._session.execute(
                select(platform_settings.c.value).where(
                    platform_settings.c.key == PLATFORM_RISK_KEY
                )
            )
        ).scalar_one_or_none()
        if raw is None:
            return PlatformRiskSettings()
        data = json.loads(raw)
        return PlatformRiskSettings(
            default_risk_perc=Decimal(data["default_risk_perc"]),
            default_leverage=int(data["default_leverage"]),
            max_risk_perc=Decimal(data["max_risk_perc"]),
            max_leverage=int(data["max_leverage"]),
        )

    async def save_platform_risk(self, settings: PlatformRiskSettings) -> None:
        # Decimals as strings: JSON numbers would go through float.
        value = json.dumps(
            {
                "default_risk_perc": str(settings.default_risk_perc),
                "default_leverage": settings.default_leverage,
                "max_risk_perc": str(settings.max_risk_perc),
                "max_leverage": settings.max_leverage,
            }
        )
        insert = _insert(self._session, platform_settings).values(
            key=PLATFORM_RISK_KEY, value=value
        )
        await self._session.execute(
            insert.on_conflict_do_update(
                index_elements=[platform_settings.c.key], set_={"value": insert.excluded.value}
            )
        )

    async def copying_paused(self) -> bool:
        raw = (
            await self._session.execute(
                select(platform_settings.c.value).where(
                    platform_settings.c.key == COPYING_PAUSED_KEY
                )
            )
        ).scalar_one_or_none()
        return raw == "true"

    async def set_copying_paused(self, paused: bool) -> None:
        insert = _insert(self._session, platform_settings).values(
            key=COPYING_PAUSED_KEY, value="true" if paused else "false"
        )
        await self._session.execute(
            insert.on_conflict_do_update(
                index_elements=[platform_settings.c.key], set_={"value": insert.excluded.value}
            )
        )
