"""The periodic portfolio sync: balances, fills, daily guardrails and their close-all.

Per approved account it reads the balance and the new fills from the exchange (all
accounts at once, no database work meanwhile; fills from where the last sync stopped
reading), then stores the hour's balance snapshot
and the fills (both idempotent: a re-run stores nothing twice), observes the daily
guardrails, and finally closes the positions of drawdown stops that asked for it.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta

from mimic.application.guardrails import CLOSE_LEASE, DailyGuardrails, plan_close_all
from mimic.application.order_sender import CLOSE_ALL, OrderSender
from mimic.application.signal_planning import ExecutionPolicy
from mimic.domain.accounts import ExchangeAccount, User
from mimic.domain.errors import ExchangeError
from mimic.domain.orders import OrderIntent
from mimic.domain.performance import AccountFill, BalanceSnapshot, hour_of
from mimic.domain.positions import Balance
from mimic.ports.exchange import ExchangeGateways
from mimic.ports.performance import BalanceSnapshotRepository, FillRepository, GuardrailRepository
from mimic.ports.repositories import ExchangeAccountRepository, TransactionManager
from mimic.ports.services import Clock

log = logging.getLogger(__name__)

FILL_READ_OVERLAP = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class SyncSummary:
    accounts: int  # read this round
    snapshots: int
    fills: int
    trips: int
    closes: int
    errors: int


@dataclass(frozen=True, slots=True)
class _Read:
    account: ExchangeAccount
    user: User
    balance: Balance | None
    fills: list[AccountFill]
    error: str | None
    full: bool  # fills (and the hour's snapshot) read too, not the balance alone


class SyncPortfolio:
    def __init__(
        self,
        accounts: ExchangeAccountRepository,
        gateways: ExchangeGateways,
        fills: FillRepository,
        snapshots: BalanceSnapshotRepository,
        guardrail_days: GuardrailRepository,
        guardrails: DailyGuardrails,
        tx: TransactionManager,
        clock: Clock,
        policy: ExecutionPolicy,
    ) -> None:
        self._accounts = accounts
        self._gateways = gateways
        self._fills = fills
        self._snapshots = snapshots
        self._guardrail_days = guardrail_days
        self._guardrails = guardrails
        self._tx = tx
        self._clock = clock
        self._sender = OrderSender(clock)
        self._policy = policy

    async def __call__(self) -> SyncSummary:
        candidates = await self._accounts.list_copy_candidates()
        ids = [account.id for account, _ in candidates]
        symbols = await self._fills.traded_symbols(ids)
        traded_at = await self._fills.latest_order_fill(ids)
        read_until = await self._fills.read_marks(ids)
        snapshot_hour = await self._snapshots.latest_hours(ids)
        await self._tx.commit()  # no transaction stays open while the exchanges answer
        started = self._clock.now()
        this_hour = hour_of(started)
        found: dict[str, _Read] = {}

        async def read(candidate: tuple[ExchangeAccount, User]) -> None:
            """Exchange weight is shared with the fan-out's orders (one budget per IP), so
            an account is read fully (balance, positions, fills) once an hour and after
            Mimic filled an order on it; in between only the balance of a follower with
            daily limits, which the guardrails watch."""
            account, user = candidate
            since = read_until.get(account.id, account.created_at)
            full = snapshot_hour.get(account.id) != this_hour or (
                account.id in traded_at and traded_at[account.id] > since
            )
            if not full and not user.guardrails.enabled:
                return
            try:
                gateway = await self._gateways.for_account(account)
                balance = await gateway.fetch_balance()
                fills: list[AccountFill] = []
                if full:
                    positions = await gateway.fetch_positions()
                    wanted = symbols.get(account.id, set()) | {p.symbol for p in positions}
                    fills = await gateway.fetch_fills(wanted, since)
            except ExchangeError as exc:
                found[account.id] = _Read(account, user, None, [], exc.reason, full)
                return
            found[account.id] = _Read(account, user, balance, fills, None, full)

        # The fan-out's concurrency per exchange: its weight budget is the orders' too.
        await self._policy.concurrency.run(candidates, lambda c: c[0].exchange, read)
        reads = [found[a.id] for a, _ in candidates if a.id in found]
        now = self._clock.now()
        book = await self._guardrails.load(ids)
        new_snapshots: list[tuple[str, BalanceSnapshot]] = []
        new_fills: list[tuple[str, str, AccountFill]] = []
        errors = 0
        for r in reads:
            if r.balance is None:
                errors += 1
                log.warning("portfolio sync of account %s: %s", r.account.id, r.error)
                continue
            book.observe(r.account, r.user, r.balance.equity)
            if not r.full:
                continue
            snapshot = BalanceSnapshot(
                account_id=r.account.id,
                hour=hour_of(now),
                currency=r.balance.currency,
                wallet_balance=r.balance.wallet_balance,
                equity=r.balance.equity,
                taken_at=now,
            )
            new_snapshots.append((r.user.id, snapshot))
            new_fills.extend((r.account.id, r.user.id, f) for f in r.fills)
        snapshots = await self._snapshots.add_new(new_snapshots)
        fills = await self._fills.add_new(new_fills)
        # The next read starts a little before this one did: the exchange's clock may lag
        # ours, and fills read twice are stored once.
        await self._fills.set_read_marks(
            [(r.account.id, started - FILL_READ_OVERLAP) for r in reads if r.full and r.balance]
        )
        trips = await self._guardrails.save(book)
        await self._tx.commit()
        await self._guardrails.announce(trips)
        closes = await self.close_tripped_accounts()
        return SyncSummary(len(reads), snapshots, fills, len(trips), closes, errors)

    async def close_tripped_accounts(self) -> int:
        """Plans and sends the close-all orders of tripped drawdown stops; returns how many
        were sent. Stored before sending; a close that may exist is looked up first."""
        for user_id, day in await self._guardrail_days.pending_close_all():
            account = await self._accounts.get(day.account_id)
            if account is None:  # connection deleted: nothing left to close through
                await self._guardrail_days.plan_closes(day.account_id, day.day, [])
                continue
            try:
                gateway = await self._gateways.for_account(account)
                positions = await gateway.fetch_positions()
            except ExchangeError as exc:
                log.warning("close-all of account %s waits: %s", account.id, exc.reason)
                continue
            closes = plan_close_all(account.id, user_id, day.day, positions, self._clock.now())
            await self._guardrail_days.plan_closes(account.id, day.day, closes)
        await self._tx.commit()
        now = self._clock.now()
        claimed = await self._guardrail_days.claim_closes(now=now, lease_until=now + CLOSE_LEASE)
        await self._tx.commit()
        if not claimed:
            return 0
        accounts = {a.id: a for a in await self._accounts.get_many({c.account_id for c in claimed})}
        await self._tx.commit()  # no transaction stays open while the exchanges answer

        async def send(close: OrderIntent) -> None:
            account = accounts.get(close.account_id)
            if account is None:
                close.skip("exchange connection was deleted", self._clock.now())
                return
            try:
                gateway = await self._gateways.for_account(account)
            except ExchangeError as exc:
                close.retry_later(exc.reason, self._clock.now())
                return
            await self._sender.send(close, gateway, CLOSE_ALL)

        def exchange_of(close: OrderIntent) -> str:
            account = accounts.get(close.account_id)
            return "" if account is None else account.exchange

        await self._policy.concurrency.run(claimed, exchange_of, send)
        await self._guardrail_days.save_closes(claimed)
        await self._tx.commit()
        return len(claimed)
