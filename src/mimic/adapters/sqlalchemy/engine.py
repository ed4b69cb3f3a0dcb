"""Async engine and session factory, tuned per backend (SQLite embedded, Postgres production)."""

import asyncio
import logging
import weakref
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.util import greenlet_spawn

log = logging.getLogger(__name__)

# WAL lets readers run beside the one writer; busy_timeout makes a second writer wait for
# the lock instead of failing at once; SQLite leaves foreign keys off unless asked.
# synchronous=FULL: each commit returns once the WAL is on disk, so an intent committed
# before its order is sent outlives a power loss or an OS crash, as a Postgres commit does
# (NORMAL, in WAL mode, loses no commit when the process dies but may roll the last ones
# back when the machine does, leaving orders sent for intents that no longer exist). It
# costs one fdatasync per writing commit, in the driver's thread: about 85 of 2 ms each
# in a fan-out to 10,000 paper followers (docs/performance.md).
SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA busy_timeout=30000",
    "PRAGMA foreign_keys=ON",
    "PRAGMA synchronous=FULL",
)


def _set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


# Connections of the webhook's own pool: a statement holds one for a round trip.
INTAKE_POOL_SIZE = 16


def create_engine(url: str) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url)
        event.listen(engine.sync_engine, "connect", _set_sqlite_pragmas)
    elif parsed.get_backend_name() == "postgresql":
        engine = create_async_engine(url, pool_size=20, max_overflow=10, pool_pre_ping=True)
    else:
        engine = create_async_engine(url)
    _track_checkouts(engine.sync_engine)
    return engine


# The connections each engine has handed out and not had back, for `close_engine`.
_checked_out: "weakref.WeakKeyDictionary[Engine, set[ConnectionPoolEntry]]" = (
    weakref.WeakKeyDictionary()
)


def _track_checkouts(engine: Engine) -> None:
    out = _checked_out.setdefault(engine, set())

    def checkout(_dbapi: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        out.add(record)

    def returned(_dbapi: Any, record: ConnectionPoolEntry) -> None:
        out.discard(record)

    event.listen(engine, "checkout", checkout)
    event.listen(engine, "checkin", returned)
    event.listen(engine, "detach", returned)  # the pool closes a detached one itself


def _refuse_connections(*_: Any) -> None:
    # An OSError: to its caller, as a database that cannot be reached (`database_unreachable`).
    raise ConnectionRefusedError("the database engine is closed: the process is stopping")


async def close_engine(engine: AsyncEngine, grace: float) -> None:
    """Ends every transaction and closes every connection of `engine`, in about `grace`
    seconds at most, whatever is still running.

    Work still in flight (a paper batch whose caller was cancelled, say) has `grace` to give
    its connection back. Then the engine opens no more connections: `dispose` alone closes
    only those in the pool, and a pool it recreates would open new ones for work that
    outlives it, never closed (with SQLite each keeps a thread that holds the process at
    exit, and a write lock if its transaction was cut short). Connections still out are
    then closed under their users: the database rolls their transactions back, nothing
    committed is lost."""
    out = _checked_out.get(engine.sync_engine, set())
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace
    while out:  # nothing here says when work gives its connection back: look every 50 ms
        if loop.time() >= deadline:
            break
        await asyncio.sleep(0.05)
    event.listen(engine.sync_engine, "do_connect", _refuse_connections)
    await engine.dispose()
    if not out:
        return
    log.warning("closing %d database connections still in use at shutdown", len(out))
    for record in list(out):
        try:
            # Invalidating closes it (aiosqlite: once its queued statements ran) and makes
            # its user's next statement fail; its checkin then only returns the record.
            await asyncio.wait_for(greenlet_spawn(record.invalidate), grace)
        except Exception:
            log.exception("a database connection could not be closed at shutdown")
        out.discard(record)


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # Repositories map rows to domain objects themselves; nothing to expire after commit.
    return async_sessionmaker(engine, expire_on_commit=False)


def database_unreachable(exc: BaseException) -> bool:
    """Whether `exc` says the database could not be reached or dropped the connection (down,
    restarting, its backend terminated), rather than that a statement was wrong."""
    if isinstance(exc, DBAPIError):
        sqlstate = str(getattr(exc.orig, "sqlstate", "") or "")
        return (
            exc.connection_invalidated
            or isinstance(exc, InterfaceError | OperationalError)
            or sqlstate.startswith(("08", "57P"))  # connection exception; admin shutdown
        )
    return isinstance(exc, OSError)  # refused or timed out before the driver wrapped it


async def _keep(_: asyncpg.Connection) -> None:
    """A connection back in the intake's pool is left as it is: its one statement commits on
    its own and changes nothing of the session."""


async def open_intake_pool(url: str) -> asyncpg.Pool | None:
    """The webhook's own small pool for storing an alert in one statement (Postgres only;
    None elsewhere), on the driver itself: SQLAlchemy's checkout and checkin were a quarter
    of the store's CPU, asyncpg's reset on release (`RESET ALL` and the like) a round trip.
    No ping: the intake's statement is its own (a dead connection fails it, and the alert
    goes the pinged session way). A fixed size: under a burst, opening and closing
    connections beyond it cost more than waiting a moment for one of its own. None is
    opened before the first alert, so a process starts with the database down."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return None
    _, options = parsed.get_dialect()().create_connect_args(parsed)
    return await asyncpg.create_pool(min_size=0, max_size=INTAKE_POOL_SIZE, reset=_keep, **options)
