"""The panic kill switch: close every open position on every account, pause copying."""

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType

from mimic.application.exchange_concurrency import ExchangeConcurrency
from mimic.application.order_sender import PANIC, OrderSender
from mimic.domain.accounts import ConnectionStatus, ExchangeAccount, User
from mimic.domain.audit import AuditEvent
from mimic.domain.errors import Conflict, ExchangeError, NotFound, PermissionDenied
from mimic.domain.notifications import Notification
from mimic.domain.orders import IntentStatus, OrderIntent, OrderLeg, client_order_id
from mimic.domain.panic import AccountOutcome, OtpVerdict, PanicRun, PanicStatus, panic_key
from mimic.domain.positions import Position
from mimic.ports.exchange import ExchangeGateway, ExchangeGateways
from mimic.ports.notifications import NotificationOutbox
from mimic.ports.panic import (
    OneTimePasswords,
    PanicCloseRepository,
    PanicGuardStore,
    PanicRunRepository,
)
from mimic.ports.repositories import (
    AuditLog,
    ExchangeAccountRepository,
    SettingsRepository,
    TransactionManager,
    UserRepository,
)
from mimic.ports.services import Clock

log = logging.getLogger(__name__)

PANIC_EVENT = "panic.executed"


@dataclass(frozen=True, slots=True)
class PanicPolicy:
    """How hard a pull tries: lookups of closes whose outcome was unknown (spread over
    the exchange's receive window), accounts served at once per exchange."""

    settle_lookups: int = 3
    concurrency_per_exchange: int = 32


@dataclass(frozen=True, slots=True)
class PanicOtpSetup:
    """Whether the TOTP secret may still be shown: never when the operator set it."""

    secret_from_operator: bool
    account_name: str = "admin"


class CheckPanicOtp:
    """Judges a one-time password once: replays, wrong codes and lockouts are audited."""

    def __init__(
        self,
        guard: PanicGuardStore,
        otp: OneTimePasswords,
        audit: AuditLog,
        tx: TransactionManager,
        clock: Clock,
    ) -> None:
        self._guard = guard
        self._otp = otp
        self._audit = audit
        self._tx = tx
        self._clock = clock

    async def __call__(self, actor: User, code: str, *, purpose: str, ip: str | None) -> None:
        """Returns when the code is accepted (committed as used); raises PermissionDenied."""
        if not actor.is_admin:
            await self.record(f"{purpose}.denied", actor, ip, {"verdict": "not an admin"})
            await self._tx.commit()
            raise PermissionDenied("this needs the admin role")
        now = self._clock.now()
        state = await self._guard.load()
        previous_step = state.last_step
        verdict = state.judge(self._otp.matching_step(code, now), now)
        stored = await self._guard.save(state, expected_last_step=previous_step)
        if verdict is OtpVerdict.ACCEPTED and not stored:
            verdict = OtpVerdict.REPLAYED  # the same code won a concurrent request
        details = {"purpose": purpose, "verdict": verdict.value}
        if verdict is not OtpVerdict.ACCEPTED:
            if state.locked_until is not None:
                details["locked_until"] = state.locked_until.isoformat()
            await self.record(f"{purpose}.denied", actor, ip, details)
            await self._tx.commit()
            if verdict is OtpVerdict.LOCKED or (
                state.locked_until is not None and state.locked_until > now
            ):
                raise PermissionDenied(
                    "too many wrong codes: the panic switch is locked for a while"
                )
            raise PermissionDenied("wrong or already used one-time password")
        await self.record(f"{purpose}.accepted", actor, ip, details)

    async def mark_confirmed(self) -> None:
        state = await self._guard.load()
        state.confirmed = True
        await self._guard.save(state, expected_last_step=state.last_step)

    async def confirmed(self) -> bool:
        return (await self._guard.load()).confirmed

    async def record(
        self, action: str, actor: User, ip: str | None, details: dict[str, str]
    ) -> None:
        await self._audit.record(
            AuditEvent(
                id=uuid.uuid4().hex,
                at=self._clock.now(),
                action=action,
                actor_id=actor.id,
                target="platform",
                ip=ip,
                details=MappingProxyType(details),
            )
        )


class SetUpPanicOtp:
    """The authenticator's provisioning URI, shown until an admin proves they scanned it."""

    def __init__(
        self,
        check: CheckPanicOtp,
        otp: OneTimePasswords,
        setup: PanicOtpSetup,
        tx: TransactionManager,
    ) -> None:
        self._check = check
        self._otp = otp
        self._setup = setup
        self._tx = tx

    async def provisioning_uri(self, actor: User, *, ip: str | None) -> str:
        if not actor.is_admin:
            raise PermissionDenied("this needs the admin role")
        if self._setup.secret_from_operator:
            raise Conflict("the panic TOTP secret comes from MIMIC_PANIC_TOTP_SECRET")
        if await self._check.confirmed():
            raise Conflict("the panic TOTP was set up already; it is never shown again")
        await self._check.record("panic.setup_shown", actor, ip, {})
        await self._tx.commit()
        return self._otp.provisioning_uri(self._setup.account_name)

    async def confirm(self, actor: User, code: str, *, ip: str | None) -> None:
        await self._check(actor, code, purpose="panic.setup", ip=ip)
        await self._check.mark_confirmed()
        await self._tx.commit()


class PullPanic:
    """Close every open position on every approved connection, cancel TP/SL, pause copying.

    Closes are reduce-only market orders, stored before they are sent with a client order
    id derived from (run, account, symbol); an unknown outcome is looked up by that id.
    """

    def __init__(
        self,
        check: CheckPanicOtp,
        runs: PanicRunRepository,
        closes: PanicCloseRepository,
        accounts: ExchangeAccountRepository,
        users: UserRepository,
        gateways: ExchangeGateways,
        settings: SettingsRepository,
        outbox: NotificationOutbox,
        tx: TransactionManager,
        clock: Clock,
        policy: PanicPolicy,
    ) -> None:
        self._check = check
        self._runs = runs
        self._closes = closes
        self._accounts = accounts
        self._users = users
        self._gateways = gateways
        self._settings = settings
        self._outbox = outbox
        self._tx = tx
        self._clock = clock
        self._policy = policy
        self._sender = OrderSender(clock)

    async def __call__(self, actor: User, code: str, *, ip: str | None, via: str) -> PanicRun:
        await self._check(actor, code, purpose="panic", ip=ip)
        run = PanicRun(id=uuid.uuid4().hex, actor_id=actor.id, started_at=self._clock.now())
        await self._settings.set_copying_paused(True)
        await self._runs.add(run)
        await self._tx.commit()
        log.warning("panic run %s pulled by %s via %s", run.id, actor.username, via)

        accounts = await self._accounts.list_by_status(ConnectionStatus.APPROVED)
        concurrency = ExchangeConcurrency(self._policy.concurrency_per_exchange)
        gateways: dict[str, ExchangeGateway] = {}
        read: dict[str, tuple[AccountOutcome, list[Position]]] = {}

        async def read_positions(account: ExchangeAccount) -> None:
            outcome = AccountOutcome(account.id, account.user_id, account.exchange)
            try:
                gateway = gateways[account.id] = await self._gateways.for_account(account)
                read[account.id] = outcome, await gateway.fetch_positions()
            except ExchangeError as exc:
                outcome.error = exc.reason
                read[account.id] = outcome, []

        await concurrency.run(accounts, lambda a: a.exchange, read_positions)
        read_results = [read[a.id] for a in accounts]
        now = self._clock.now()
        closes = [
            self._close(run.id, outcome, position, now)
            for outcome, positions in read_results
            for position in positions
        ]
        await self._closes.add_new(closes, run_id=run.id)
        await self._tx.commit()

        by_account: dict[str, list[OrderIntent]] = {}
        for close in closes:
            by_account.setdefault(close.account_id, []).append(close)

        exchanges = {a.id: a.exchange for a in accounts}

        async def flatten(item: tuple[str, list[OrderIntent]]) -> None:
            account_id, account_closes = item
            for close in account_closes:
                await self._sender.send(close, gateways[account_id], PANIC)

        await concurrency.run(list(by_account.items()), lambda i: exchanges[i[0]], flatten)
        # A close whose answer was lost may show up a moment later. What stays unknown is
        # reported as pending; pulling panic again is safe, since a reduce-only close of
        # what is still open can never open or flip a position.
        await self._sender.settle(
            [(c, gateways[c.account_id]) for c in closes if not c.status.is_final],
            self._policy.settle_lookups,
        )
        await self._closes.save_results(closes, run_id=run.id)
        outcomes = [outcome for outcome, _ in read_results]
        for outcome in outcomes:
            for close in by_account.get(outcome.account_id, []):
                if close.status is IntentStatus.FILLED:
                    outcome.closed.append(close.symbol)
                elif close.status.is_final:
                    outcome.failed[close.symbol] = close.reason or close.status.value
                else:
                    outcome.pending.append(close.symbol)
        run.accounts = outcomes
        run.status = PanicStatus.DONE
        run.finished_at = self._clock.now()
        await self._runs.save(run)
        await self._outbox.add_many(await self._notifications(run))
        await self._tx.commit()
        return run

    @staticmethod
    def _close(
        run_id: str, outcome: AccountOutcome, position: Position, now: datetime
    ) -> OrderIntent:
        key = panic_key(run_id, position.symbol)
        close = OrderIntent(
            id=uuid.uuid4().hex,
            signal_id=f"panic:{run_id}",
            account_id=outcome.account_id,
            user_id=outcome.user_id,
            leg=OrderLeg.CLOSE,
            symbol=position.symbol,
            side=position.side.closing_side,
            quantity=position.quantity,
            reduce_only=True,
            leverage=None,
            client_order_id=client_order_id(key, outcome.account_id, OrderLeg.CLOSE),
            created_at=now,
            updated_at=now,
        )
        close.hold_for_sending(now)
        return close

    async def _notifications(self, run: PanicRun) -> list[Notification]:
        now = self._clock.now()
        by_user: dict[str, list[str]] = {}
        for outcome in run.accounts:
            if outcome.closed or outcome.failed or outcome.pending or outcome.error:
                by_user.setdefault(outcome.user_id, []).append(
                    f"{outcome.exchange} account {outcome.account_id[:8]}: {outcome.summary}"
                )
        notifications = [
            Notification(
                id=uuid.uuid4().hex,
                user_id=user_id,
                event=PANIC_EVENT,
                text="Panic: an admin closed every position and paused copying.\n"
                + "\n".join(lines),
                created_at=now,
                batch_key=f"panic:{run.id}",
            )
            for user_id, lines in by_user.items()
        ]
        closed = sum(len(o.closed) for o in run.accounts)
        trouble = [o for o in run.accounts if o.failed or o.pending or o.error]
        summary = (
            f"Panic run {run.id[:8]} done: {closed} positions closed on "
            f"{len(run.accounts)} accounts; {len(trouble)} accounts need attention. "
            "Copying is paused until an admin resumes it."
        )
        for admin in await self._admins():
            notifications.append(
                Notification(
                    id=uuid.uuid4().hex,
                    user_id=admin.id,
                    event=PANIC_EVENT,
                    text=summary,
                    created_at=now,
                    batch_key=f"panic-admin:{run.id}",
                )
            )
        return notifications

    async def _admins(self) -> list[User]:
        admins: list[User] = []
        offset = 0
        while page := await self._users.list(offset=offset, limit=500):
            admins.extend(u for u in page if u.is_admin and u.active)
            offset += len(page)
        return admins


class ViewPanicRuns:
    def __init__(self, runs: PanicRunRepository) -> None:
        self._runs = runs

    async def __call__(self, run_id: str) -> PanicRun:
        run = await self._runs.get(run_id)
        if run is None:
            raise NotFound("panic run not found")
        return run


class _CopyingSwitch:
    """The global pause of copying new entries: closes and exits always go out."""

    def __init__(
        self, settings: SettingsRepository, audit: AuditLog, tx: TransactionManager, clock: Clock
    ) -> None:
        self._settings = settings
        self._audit = audit
        self._tx = tx
        self._clock = clock

    async def paused(self) -> bool:
        return await self._settings.copying_paused()

    async def _switch(self, actor: User, *, paused: bool, ip: str | None) -> None:
        if not actor.is_admin:
            raise PermissionDenied("this needs the admin role")
        await self._settings.set_copying_paused(paused)
        await self._audit.record(
            AuditEvent(
                id=uuid.uuid4().hex,
                at=self._clock.now(),
                action="copying.paused" if paused else "copying.resumed",
                actor_id=actor.id,
                target="platform",
                ip=ip,
            )
        )
        await self._tx.commit()


class ResumeCopying(_CopyingSwitch):
    """Lift the pause (admin), whether the panic switch or an admin's pause set it."""

    async def __call__(self, actor: User, *, ip: str | None) -> None:
        await self._switch(actor, paused=False, ip=ip)


class PauseCopying(_CopyingSwitch):
    """Stop copying new entries for every follower (admin) without closing anything, until
    an admin resumes: for a storm of bad alerts, where the panic switch would be too much."""

    async def __call__(self, actor: User, *, ip: str | None) -> None:
        await self._switch(actor, paused=True, ip=ip)
