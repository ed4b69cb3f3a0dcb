"""Account event streams: the exchanges' streams, the interactors that record what they
report, and the holder that runs them in a worker (or the embedded process)."""

import asyncio
import contextlib
import os
import secrets
import socket
from collections.abc import AsyncIterator, Collection, Sequence
from datetime import datetime

from dishka import AsyncContainer, Provider, Scope, provide
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mimic.adapters.ccxt.budget import WeightBudget
from mimic.adapters.ccxt.lazy import LazyCcxtAccountStream
from mimic.adapters.memory.stream_leases import SoleHolderLeases
from mimic.adapters.paper.account_stream import PaperAccountStream
from mimic.adapters.redis.stream_leases import RedisStreamLeases
from mimic.application.hold_account_streams import HoldAccountStreams, StreamFeed, StreamPolicy
from mimic.application.reconcile_account_fills import ReconcileAccountFills
from mimic.application.record_account_fills import RecordAccountFills
from mimic.domain.account_events import AccountEvent
from mimic.domain.accounts import ExchangeAccount
from mimic.domain.orders import OrderIntent
from mimic.entrypoints.config import Settings
from mimic.entrypoints.runtime import freeze_survivors
from mimic.ports.account_events import AccountEventFeed, AccountStreamWork, StreamLeases
from mimic.ports.exchange import CredentialVault
from mimic.ports.metrics import Metrics
from mimic.ports.repositories import ExchangeAccountRepository
from mimic.ports.services import Clock
from mimic.ports.streamed_accounts import StreamedAccounts


class AccountStreamsProvider(Provider):
    scope = Scope.REQUEST

    record_fills = provide(RecordAccountFills)
    reconcile_fills = provide(ReconcileAccountFills)

    @provide(scope=Scope.APP)
    async def paper_stream(
        self, sessions: async_sessionmaker[AsyncSession], clock: Clock, settings: Settings
    ) -> AsyncIterator[PaperAccountStream]:
        stream = PaperAccountStream(
            sessions, clock, poll_interval=settings.paper_events_poll.total_seconds()
        )
        yield stream
        await stream.aclose()

    @provide(scope=Scope.APP)
    async def ccxt_stream(
        self,
        vault: CredentialVault,
        clock: Clock,
        settings: Settings,
        streamed: StreamedAccounts,
    ) -> AsyncIterator[LazyCcxtAccountStream]:
        # A tenth at once (a restart), the rest spread over the window.
        connects = WeightBudget(
            settings.stream_connects_per_5min, window_seconds=300, burst_fraction=0.1
        )
        stream = LazyCcxtAccountStream(
            vault,
            clock,
            api_origins=settings.ccxt_api_origins,
            connects=connects,
            # The positions each stream reports, for planning (docs/account-events.md).
            streamed=streamed if settings.streamed_positions else None,
            state_ttl=settings.stream_lease,
        )
        yield stream
        await stream.aclose()

    @provide(scope=Scope.APP)
    def feeds(
        self, paper: PaperAccountStream, live: LazyCcxtAccountStream
    ) -> Sequence[AccountEventFeed]:
        return [paper, StreamFeed(live)]


class ContainerStreamWork(AccountStreamWork):
    """Each call in its own request scope: its own session, as every task gets."""

    def __init__(self, container: AsyncContainer) -> None:
        self._container = container

    async def streamed(self) -> dict[str, str]:
        async with self._container() as scope:
            accounts: ExchangeAccountRepository = await scope.get(ExchangeAccountRepository)
            return await accounts.list_streamed()

    async def accounts(self, account_ids: Collection[str]) -> list[ExchangeAccount]:
        async with self._container() as scope:
            accounts: ExchangeAccountRepository = await scope.get(ExchangeAccountRepository)
            return await accounts.get_many(account_ids)

    async def record(
        self, batches: Sequence[tuple[ExchangeAccount, Sequence[AccountEvent]]]
    ) -> tuple[list[tuple[ExchangeAccount, OrderIntent]], dict[str, Exception]]:
        async with self._container() as scope:
            record = await scope.get(RecordAccountFills)
            outcome = await record.record_many_isolated(batches)
            return outcome.flat, outcome.failed

    async def release(self, flat: Sequence[tuple[ExchangeAccount, OrderIntent]]) -> None:
        async with self._container() as scope:
            record = await scope.get(RecordAccountFills)
            await record.release(flat)

    async def reconcile(
        self, accounts: Sequence[tuple[ExchangeAccount, datetime]], at_once: int
    ) -> dict[str, Exception]:
        async with self._container() as scope:
            reconcile = await scope.get(ReconcileAccountFills)
            return (await reconcile(accounts, at_once)).failed


_frozen_with_streams = False


async def _freeze_once_settled(settled: asyncio.Event, at_latest: float) -> None:
    """Once the streams held settled (or `at_latest` seconds after they started: one that
    never connects must not keep the others from it), what the process keeps for its life
    (modules, ccxt's API tables, the held streams' clients and sockets) is moved out of the
    garbage collector's reach: each full collection walked it all, about a second with
    1,000 streams on a loaded 2-core machine, every stream stalled meanwhile. At once when
    settled, not after a fixed delay that could land in the first fan-out. Once per
    process, right after a collection: frozen objects that later form garbage cycles are
    never freed, so a process holding streams again (tests) does not freeze again. The
    processes' start-up freeze (`runtime.tune_garbage_collector`) came before any stream."""
    global _frozen_with_streams
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(settled.wait(), at_latest)
    if not _frozen_with_streams:
        _frozen_with_streams = True
        freeze_survivors()


@contextlib.asynccontextmanager
async def holding_account_streams(
    container: AsyncContainer, settings: Settings
) -> AsyncIterator[HoldAccountStreams]:
    """Holds this process's share of the account streams while inside. Without Redis (the
    embedded mode) the process is the only worker and holds them all."""
    client: Redis | None = None
    leases: StreamLeases = SoleHolderLeases()
    if settings.redis_url is not None:
        client = Redis.from_url(settings.redis_url, socket_connect_timeout=2, socket_timeout=5)
        leases = RedisStreamLeases(
            client,
            prefix=settings.stream_key_prefix,
            holder_id=f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}",
            period=settings.stream_lease,
        )
    holder = HoldAccountStreams(
        await container.get(Sequence[AccountEventFeed]),
        leases,
        ContainerStreamWork(container),
        await container.get(Clock),
        await container.get(Metrics),
        StreamPolicy(
            reconcile_every=settings.stream_reconcile_interval,
            record_batch=settings.stream_record_batch,
            flat_grace=settings.stream_flat_grace,
        ),
    )
    running = asyncio.create_task(holder.run(), name="account-streams")
    settling = asyncio.create_task(
        _freeze_once_settled(holder.settled, settings.stream_lease.total_seconds())
    )
    try:
        yield holder
    finally:
        for task in (settling, running):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if client is not None:
            await client.aclose()
