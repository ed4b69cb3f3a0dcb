"""The floor of bench/intake.py: the webhook's durable work and nothing else.

Decode the JSON body, one INSERT (with a unique key, as dedupe has) through asyncpg, one
XADD through redis-py, answer 202. Served by uvicorn like `mimic serve`.
"""

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import msgspec
from litestar import Litestar, Request, Response, post
from redis.asyncio import Redis

DSN = os.environ["BENCH_FLOOR_DSN"]
STREAM = os.environ["BENCH_FLOOR_STREAM"]
INSERT = "INSERT INTO floor_signals (id, dedupe_key, body) VALUES ($1, $2, $3)"


class Resources:
    pool: asyncpg.Pool
    redis: Redis


resources = Resources()


@asynccontextmanager
async def lifespan(_: Litestar) -> AsyncIterator[None]:
    resources.pool = await asyncpg.create_pool(DSN, min_size=4, max_size=8)
    resources.redis = Redis.from_url(os.environ["BENCH_FLOOR_REDIS"])
    try:
        yield
    finally:
        await resources.redis.aclose()
        await resources.pool.close()


@post("/webhook", status_code=202)
async def webhook(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    body = await request.body()
    alert = msgspec.json.decode(body)
    signal_id = uuid.uuid4().hex
    await resources.pool.execute(INSERT, signal_id, alert["id"], body)
    await resources.redis.xadd(STREAM, {"signal_id": signal_id})
    return Response({"signal_id": signal_id, "duplicate": False}, status_code=202)


app = Litestar(route_handlers=[webhook], lifespan=[lifespan])
