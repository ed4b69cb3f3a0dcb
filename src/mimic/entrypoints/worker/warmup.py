"""What a fresh worker process sets up before it takes its first job.

Otherwise the first signal after a (re)start pays for it: the engine and the database
driver's modules, one connection per concurrent statement of a fan-out (each new asyncpg
connection also runs the driver's type set-up queries) and the first build of the fan-out's
object graph.
"""

import asyncio

from dishka import AsyncContainer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from mimic.application.execute_signal import ExecuteSignal

# About as many connections as one fan-out keeps busy at once: its own session, and the
# paper venue's batches of orders, reads and cancellations in flight beside it.
WARM_CONNECTIONS = 8


async def warm_up(container: AsyncContainer) -> None:
    engine = await container.get(AsyncEngine)

    async def connect() -> None:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    await asyncio.gather(*(connect() for _ in range(WARM_CONNECTIONS)))
    async with container() as request:
        await request.get(ExecuteSignal)
