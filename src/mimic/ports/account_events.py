"""Streams of what happens on exchange accounts, and the leases that spread them over
workers."""

from collections.abc import AsyncIterator, Collection, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from mimic.domain.account_events import AccountEvent
from mimic.domain.accounts import ExchangeAccount
from mimic.domain.orders import OrderIntent


class AccountEventStream(Protocol):
    """One exchange family's account streams (the paper venue, ccxt's WebSockets)."""

    def supports(self, exchange: str) -> bool: ...

    def events(self, account: ExchangeAccount) -> AsyncIterator[Sequence[AccountEvent]]:
        """Batches of the account's events as they happen, until the caller stops reading.

        The first batch, and the first after every reconnection, is a `StreamConnected`:
        what happened while the stream was away is to be reconciled by REST. A lost
        connection is retried with backoff inside; an `ExchangeError` that retrying cannot
        mend (keys revoked) ends the iteration by raising it.
        """
        ...


class AccountEventSink(Protocol):
    """Whoever follows accounts' streams (the holder): told each account's batches."""

    def deliver(self, account_id: str, events: Sequence[AccountEvent]) -> None:
        """A batch as `AccountEventStream.events` yields it; returns at once."""
        ...

    def ended(self, account_id: str, error: Exception | None) -> None:
        """The account's stream ended by itself (`error`: what ended it): no more batches."""
        ...

    async def recorded(self, account_id: str) -> None:
        """Returns once the fills delivered of the account are recorded (or failed, which
        the sink mends). A stream with a connection of its own reads on only then: in a
        burst, recording what came goes before reading the messages that follow."""
        ...


class AccountEventFeed(Protocol):
    """Account streams as a holder follows them: each account's batches handed to a sink.
    The paper venue's one table needs no task or queue per account; the holder runs any
    `AccountEventStream` as a feed with a task per account."""

    def supports(self, exchange: str) -> bool: ...

    async def follow(self, account: ExchangeAccount, sink: AccountEventSink) -> None:
        """Start telling `sink` the account's batches, the first a `StreamConnected`."""
        ...

    async def unfollow(self, account_id: str, sink: AccountEventSink) -> None:
        """Stop: once this returns, `sink` hears nothing more of the account."""
        ...


class StreamLeases(Protocol):
    """Which worker holds which account's stream: each account at most one at a time, and
    a dead worker's accounts free for others once its leases run out."""

    @property
    def period(self) -> timedelta:
        """How long a lease lasts unless renewed; holders renew well within it."""
        ...

    async def hold(self, wanted: Collection[str], held: Collection[str]) -> set[str]:
        """Renew the leases on `held`, and take some of `wanted` that nobody holds, up to
        this holder's share; returns every account this holder now holds."""
        ...

    async def release(self, account_ids: Collection[str]) -> None:
        """Give these up at once (a worker stopping), so others need not wait them out."""
        ...


class AccountStreamWork(Protocol):
    """What holding streams does with the database and the exchanges' REST APIs; each call
    is its own unit of work (a fresh session), since many streams run at once."""

    async def streamed(self) -> dict[str, str]:
        """The approved connections of active users, whose streams are held: account id ->
        exchange (read at every refresh: 100,000 whole accounts cost a worker a second)."""
        ...

    async def accounts(self, account_ids: Collection[str]) -> list[ExchangeAccount]:
        """These accounts (those a holder starts holding); any gone meanwhile are left out."""
        ...

    async def record(
        self, batches: Sequence[tuple[ExchangeAccount, Sequence[AccountEvent]]]
    ) -> tuple[list[tuple[ExchangeAccount, OrderIntent]], dict[str, Exception]]:
        """Record what several accounts' streams reported, in one unit of work, or one
        account at a time if that fails (application.record_account_fills); returns the
        positions their fills left flat (account and entry), whose leftover protection is
        for `release`, and why each account whose fills were not recorded failed."""
        ...

    async def release(self, flat: Sequence[tuple[ExchangeAccount, OrderIntent]]) -> None:
        """Cancel what is left of these positions' TP/SL on the exchanges."""
        ...

    async def reconcile(
        self, accounts: Sequence[tuple[ExchangeAccount, datetime]], at_once: int
    ) -> dict[str, Exception]:
        """Record what each account did since its time, read by REST (`at_once` accounts
        at a time), the database read once for them all; returns why each account that
        failed did (an `ExchangeError`, or the recording's error). Raises when the database
        read fails: then none is reconciled."""
        ...
