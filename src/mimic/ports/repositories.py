import builtins
from collections.abc import Collection, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from mimic.domain.accounts import ConnectionStatus, ExchangeAccount, SignalSource, User
from mimic.domain.activity import CopyingCounts, FailedDelivery
from mimic.domain.audit import AuditEvent
from mimic.domain.fanout import FanoutPart
from mimic.domain.follows import FollowChoices, SourceFollow
from mimic.domain.orders import NO_FILTERS, OrderFilters, OrderIntent
from mimic.domain.risk import PlatformRiskSettings
from mimic.domain.signal import Signal, SignalStatus


class TransactionManager(Protocol):
    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...


class UserRepository(Protocol):
    async def add(self, user: User) -> None:
        """Raises `Conflict` when the username or email is taken."""
        ...

    async def get(self, user_id: str) -> User | None: ...

    async def get_by_username(self, username: str) -> User | None: ...

    async def usernames(self, user_ids: Collection[str]) -> dict[str, str]:
        """user id -> username, for the ids that exist (deleted users too)."""
        ...

    async def get_by_referral_code(self, code: str) -> User | None: ...

    async def list(self, *, offset: int = 0, limit: int = 100) -> list[User]: ...

    async def save(self, user: User) -> None: ...

    async def get_by_email(self, email: str) -> User | None: ...

    async def count_failed_login(self, user_id: str) -> int:
        """Atomically adds one failed sign-in and returns the new count."""
        ...

    async def set_sign_in_state(
        self,
        user_id: str,
        *,
        failed_logins: int,
        locked_until: datetime | None,
        password_hash: str | None = None,
    ) -> None:
        """Writes only these columns, so a sign-in never overwrites an admin's concurrent
        edit of the same user; `password_hash` None keeps the stored hash."""
        ...

    async def search(
        self, *, query: str | None, offset: int, limit: int, include_deleted: bool = False
    ) -> tuple[builtins.list[User], int]:
        """Users whose username or email contains `query` (any case), oldest first, and the
        total number of matches."""
        ...


class SourceFollowRepository(Protocol):
    async def list_for_user(self, user_id: str) -> list[SourceFollow]:
        """The sources `user_id` chose to follow; empty = follows every active source."""
        ...

    async def replace_for_user(self, user_id: str, follows: Sequence[SourceFollow]) -> None:
        """The follower's whole list of follows becomes `follows`."""
        ...

    async def choices_for(self, source_id: str) -> FollowChoices:
        """Who chose sources at all, and how each who chose `source_id` follows it."""
        ...


class SignalSourceRepository(Protocol):
    async def add(self, source: SignalSource) -> None: ...

    async def get_by_passphrase_hash(self, passphrase_hash: str) -> SignalSource | None: ...

    async def count(self) -> int: ...

    async def list_all(self) -> list[SignalSource]:
        """Every source, by name."""
        ...

    async def get(self, source_id: str) -> SignalSource | None: ...

    async def save(self, source: SignalSource) -> None:
        """Name, passphrase hash, active and direction of an existing source."""
        ...

    async def delete_unused(self, source_id: str) -> bool:
        """Delete the source unless a signal refers to it; whether it was deleted."""
        ...


class SignalRepository(Protocol):
    async def add_unless_duplicate(
        self, signal: Signal, *, expiring_after: datetime
    ) -> tuple[Signal, bool]:
        """Store `signal` unless its source already has one with the same dedupe key.

        Keys that expire (body hashes) only collide with signals received after
        `expiring_after`. Returns the stored signal and whether it was a duplicate; safe
        under concurrent calls (a unique constraint decides).
        """
        ...

    async def get(self, signal_id: str) -> Signal | None: ...

    async def list_recent(self, *, limit: int, source_id: str | None = None) -> list[Signal]:
        """Newest first; with `source_id`, only that source's signals."""
        ...

    async def source_ids(self, signal_ids: Collection[str]) -> dict[str, str]:
        """The source of each of `signal_ids` that exists."""
        ...

    async def set_status(self, signal_id: str, status: SignalStatus) -> None: ...

    async def set_reference(self, signal_id: str, price: Decimal, at: datetime) -> None:
        """Records the signal's reference price read at `at`, unless it has one: of the
        fan-out parts that read a price, the first to write it keeps it."""
        ...

    async def list_next_in_line(self) -> list[Signal]:
        """Signals not done yet that no earlier not-done signal of the same source on the
        same symbol goes before, oldest first: the ones that may run now."""
        ...

    async def first_unfinished(self, source_id: str, symbol: str) -> Signal | None:
        """The earliest not-done signal of `source_id` on `symbol`: the next one to run."""
        ...

    async def finish_part(self, signal_id: str, part: FanoutPart) -> bool:
        """Records that every intent of `part` is final; the last part to finish marks the
        signal done, in the same statement (parts finishing at once cannot both miss it).

        Returns whether the signal is done now.
        """
        ...

    async def has_unfinished_before(self, signal: Signal) -> bool:
        """Whether the same source has a not-done signal on the same symbol received earlier."""
        ...


class ExchangeAccountRepository(Protocol):
    async def add(self, account: ExchangeAccount) -> None: ...

    async def get(self, account_id: str) -> ExchangeAccount | None: ...

    async def get_many(self, account_ids: Collection[str]) -> list[ExchangeAccount]: ...

    async def list_for_user(self, user_id: str) -> list[ExchangeAccount]: ...

    async def list_by_status(self, status: ConnectionStatus | None) -> list[ExchangeAccount]: ...

    async def save(self, account: ExchangeAccount) -> None: ...

    async def delete(self, account_id: str) -> None: ...

    async def list_copy_candidates(
        self,
        *,
        monitored_only: bool = False,
        part: FanoutPart | None = None,
        after: ExchangeAccount | None = None,
        limit: int | None = None,
    ) -> list[tuple[ExchangeAccount, User]]:
        """Approved connections of active users, whatever their enabled/paused state, oldest
        first (by creation time, then id).

        `monitored_only`: only those whose user's protection is `monitored` (trailing stop
        or DCA), which the position monitor reads every few seconds. `part`: only the
        connections that part of a fan-out holds. `after` and `limit`: a page of them, those
        that come after `after` (the last of the previous page), at most `limit`.
        """
        ...

    async def list_streamed(self) -> dict[str, str]:
        """The connections `list_copy_candidates` lists, as account id -> exchange: the
        accounts whose event streams are held, read every few seconds by each worker (only
        what choosing them takes; `get_many` reads those a worker starts holding)."""
        ...


class OrderIntentRepository(Protocol):
    async def add_new(
        self, intents: Sequence[OrderIntent], *, lease_until: datetime | None = None
    ) -> set[str]:
        """Insert; an intent whose (signal, account, leg) exists already is ignored.

        Returns the ids actually inserted. With `lease_until`, the inserted intents that are
        submitting are held by the caller until then, exactly as if it had claimed them.
        """
        ...

    async def list_for_signal(
        self, signal_id: str, *, part: FanoutPart | None = None
    ) -> list[OrderIntent]:
        """`part`: only the intents of the connections that part of the fan-out holds."""
        ...

    async def has_unsettled(self, signal_id: str, *, part: FanoutPart) -> bool:
        """Whether any intent of the signal in `part` is not final yet (whoever holds it)."""
        ...

    async def list_for_user(
        self, user_id: str, *, limit: int, filters: OrderFilters = NO_FILTERS
    ) -> list[OrderIntent]:
        """Newest first; only those `filters` let through."""
        ...

    async def signals_in_hand(self, signal_ids: Collection[str], *, now: datetime) -> set[str]:
        """Those of `signal_ids` a worker is placing orders of: one of their intents is held
        under a lease that runs past `now`."""
        ...

    async def claim(
        self, intent_ids: Sequence[str], *, now: datetime, lease_until: datetime
    ) -> list[OrderIntent]:
        """Atomically take the intents that are pending or whose lease ran out.

        Their `attempts` grows by one; a claimed intent with attempts > 1 may already
        exist on the exchange. Intents another worker holds are not returned.
        """
        ...

    async def save_results(self, intents: Sequence[OrderIntent]) -> None:
        """Write the outcomes of intents this worker still holds.

        An intent claimed again since (its `attempts` grew: the lease ran out and another
        worker took it over) is left as that worker has it.
        """
        ...


class SettingsRepository(Protocol):
    async def get_platform_risk(self) -> PlatformRiskSettings: ...

    async def save_platform_risk(self, settings: PlatformRiskSettings) -> None: ...

    async def copying_paused(self) -> bool:
        """The global pause (panic switch or an admin): no new entries for anyone; closes
        still go."""
        ...

    async def set_copying_paused(self, paused: bool) -> None: ...


class AuditLog(Protocol):
    async def record(self, event: AuditEvent) -> None:
        """Stored with the caller's transaction: an event commits with what it describes."""
        ...

    async def list(
        self,
        *,
        offset: int = 0,
        limit: int = 100,
        action: str | None = None,
        actor_id: str | None = None,
    ) -> list[AuditEvent]:
        """Newest first; `action` matches a whole key or a prefix ending in "." ("auth.")."""
        ...


class PlatformActivity(Protocol):
    """What the admin console's overview reads of recent activity; each read is bounded."""

    async def copying(self) -> CopyingCounts:
        """How many followers and connections signals are copied to."""
        ...

    async def signals_per_hour(self, hours: Sequence[datetime]) -> list[int]:
        """For each hour start, how many signals arrived in the hour from it."""
        ...

    async def rejected_orders(self, *, since: datetime, limit: int) -> list[OrderIntent]:
        """Orders created at or after `since` that the exchange or Mimic rejected, newest
        first."""
        ...

    async def failed_deliveries(self, *, limit: int) -> list[FailedDelivery]:
        """Notifications not delivered yet whose last attempt failed, newest first (however
        old: they are still failing)."""
        ...
