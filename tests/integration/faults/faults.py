"""The faults, one at a time: each is injected under the burst, lasts while the burst goes
on, and is cleared as an operator or a supervisor would clear it."""

import asyncio

import asyncpg
from redis.asyncio import Redis

from tests.conftest import POSTGRES_DSN
from tests.integration.faults.scenario import Fault, Platform, Recovery, now


async def worker_sigkill(p: Platform) -> Recovery:
    worker = p.cluster.services["worker1"]
    worker.kill()
    await p.hold()
    worker.restart()
    await worker.wait_ready(p.client)
    return Recovery(now(), killed=worker.name)


async def serve_sigkill(p: Platform) -> Recovery:
    serve = p.cluster.services["serve1"]
    serve.kill()
    await p.hold()  # the burst's alerts to it go unanswered, as behind a slow balancer
    serve.restart()
    await serve.wait_ready(p.client)
    return Recovery(now(), killed=serve.name)


async def redis_restarted_empty(p: Platform) -> Recovery:
    p.cluster.redis.kill()
    await p.hold()
    await asyncio.to_thread(p.cluster.redis.start)  # empty: no persistence
    return Recovery(now())


async def redis_flushall(p: Platform) -> Recovery:
    client = Redis.from_url(p.cluster.redis.url)
    try:
        await client.flushall()
    finally:
        await client.aclose()
    return Recovery(now())


async def redis_sigstop(p: Platform) -> Recovery:
    p.cluster.redis.pause()
    try:
        await p.hold()
    finally:
        p.cluster.redis.resume()
    return Recovery(now())


async def postgres_connections_terminated(p: Platform) -> Recovery:
    await _terminate_connections(p.database)
    await p.hold()
    await _terminate_connections(p.database)  # those opened meanwhile too
    return Recovery(now())


async def _terminate_connections(database: str) -> None:
    """Every connection to the test's own database (the server is shared)."""
    admin = await asyncpg.connect(POSTGRES_DSN, timeout=5)
    try:
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> pg_backend_pid()",
            database,
        )
    finally:
        await admin.close()


def _exchange_fault(name: str, **failure: object) -> Fault:
    async def inject(p: Platform) -> Recovery:
        p.stub.fail(times=None, **failure)  # type: ignore[arg-type]
        try:
            await p.hold()
        finally:
            p.stub.clear_faults()
        return Recovery(now())

    return Fault(name, inject, exchange=True)


FAULTS = [
    Fault("worker_sigkill", worker_sigkill),
    Fault("serve_sigkill", serve_sigkill),
    Fault("postgres_connections_terminated", postgres_connections_terminated),
    _exchange_fault("exchange_503", status=503),
    _exchange_fault("exchange_timeout_after_execution", code=-1007, after_execution=True),
    # Executed, then no answer before ccxt's 10 s timeout: the order is found by its id.
    _exchange_fault("exchange_silent_after_execution", status=503, after_execution=True, delay=11),
    _exchange_fault("exchange_429", status=429, retry_after=1, method=None, path=None),
    _exchange_fault("exchange_418", status=418, retry_after=2, method=None, path=None),
    Fault("redis_sigstop", redis_sigstop),
    Fault("redis_flushall", redis_flushall),
    Fault("redis_restarted_empty", redis_restarted_empty),
]
