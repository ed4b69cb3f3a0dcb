"""Holding N account stream leases in Redis: what a steady refresh costs.

Two workers (`RedisStreamLeases`, as `mimic worker` builds them, in this one process) share
N accounts until neither takes or gives up any more; then each renews what it holds for
`--rounds` refreshes. Prints per size:
    stream_leases accounts=N workers=2 client_ms_per_refresh=C redis_ms_per_refresh=R load1=L
C is this process's CPU time per worker refresh (`hold`), R Redis's own CPU time (its
`used_cpu_sys` + `used_cpu_user`) per worker refresh, L the one-minute load average.
"""

import argparse
import asyncio
import os
import time
import uuid
from datetime import timedelta

from redis.asyncio import Redis

from mimic.adapters.redis.stream_leases import RedisStreamLeases


async def redis_cpu(client: Redis) -> float:
    info = await client.info("cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


async def measure(client: Redis, accounts: int, rounds: int) -> str:
    prefix = f"bench:{uuid.uuid4().hex}:streams:"
    period = timedelta(seconds=60)  # nothing runs out while measured
    workers = [
        RedisStreamLeases(client, prefix=prefix, holder_id=f"worker-{n}", period=period)
        for n in range(2)
    ]
    wanted = {f"account-{n:06}" for n in range(accounts)}
    held: list[set[str]] = [set(), set()]
    for _ in range(4):  # shared out, steady
        for n, worker in enumerate(workers):
            held[n] = await worker.hold(wanted, held[n])
    assert held[0] | held[1] == wanted
    assert not held[0] & held[1]
    cpu, server = time.process_time(), await redis_cpu(client)
    for _ in range(rounds):
        for n, worker in enumerate(workers):
            held[n] = await worker.hold(wanted, held[n])
    client_ms = (time.process_time() - cpu) * 1000 / (rounds * 2)
    redis_ms = (await redis_cpu(client) - server) * 1000 / (rounds * 2)
    for n, worker in enumerate(workers):
        await worker.release(held[n])
    return (
        f"stream_leases accounts={accounts} workers=2 client_ms_per_refresh={client_ms:.1f} "
        f"redis_ms_per_refresh={redis_ms:.1f} load1={os.getloadavg()[0]:.2f}"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", default="10000,100000")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument(
        "--redis", default=os.environ.get("MIMIC_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    args = parser.parse_args()
    client = Redis.from_url(args.redis)
    try:
        for size in (int(s) for s in args.accounts.split(",")):
            print(await measure(client, size, args.rounds), flush=True)
    finally:
        await client.aclose()


if __name__ == "__main__":
    asyncio.run(main())
