"""The ids a log line carries: set where work starts, kept per asyncio task, written as JSON."""

import asyncio
import io
import json
import logging

from mimic.application import work_context
from mimic.domain.orders import OrderFill, OrderRequest
from mimic.entrypoints.logs import JsonFormatter, WorkContextFilter
from tests.fakes.exchange import FakeExchange
from tests.unit.application.test_execute_signal import PRICES, World


def json_logger(name: str) -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(WorkContextFilter())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger(name)
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, stream


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


async def test_a_line_names_the_request_signal_and_account_of_its_own_task() -> None:
    logger, stream = json_logger("tests.work_context.tasks")

    async def job(n: int) -> None:
        work_context.handling_request(f"req-{n}")
        work_context.working_on_signal(f"sig-{n}")
        work_context.working_on_account(f"acct-{n}")
        await asyncio.sleep(0)  # the other jobs set theirs meanwhile
        logger.info("job %d", n)

    await asyncio.gather(*(job(n) for n in range(3)))
    logger.info("outside any job")

    written = lines(stream)
    by_message = {line["message"]: line for line in written}
    for n in range(3):
        line = by_message[f"job {n}"]
        assert (line["request_id"], line["signal_id"], line["account_id"]) == (
            f"req-{n}",
            f"sig-{n}",
            f"acct-{n}",
        )
        assert line["level"] == "INFO"
        assert line["logger"] == "tests.work_context.tasks"
    outside = by_message["outside any job"]
    assert (outside["request_id"], outside["signal_id"], outside["account_id"]) == (
        None,
        None,
        None,
    )


def test_an_exception_stays_inside_its_one_json_line() -> None:
    logger, stream = json_logger("tests.work_context.exceptions")
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        logger.exception("failed")
    [line] = lines(stream)
    assert line["message"] == "failed"
    assert "ValueError: boom" in str(line["exception"])


class ContextRecordingExchange(FakeExchange):
    """Notes which signal and account the sending task says it works on."""

    def __init__(self) -> None:
        super().__init__(mark_prices=PRICES)
        self.seen: list[tuple[str | None, str | None]] = []

    async def place_market_order(self, request: OrderRequest) -> OrderFill:
        self.seen.append((work_context.signal_id(), work_context.account_id()))
        await asyncio.sleep(0)  # let the other followers' senders run in between
        return await super().place_market_order(request)


async def test_the_fan_out_sends_each_order_in_its_signal_and_account_context() -> None:
    world = World()
    followers = [await world.follower(name) for name in ("ann", "bob", "cid", "dan")]
    exchanges = {}
    for follower in followers:
        exchanges[follower.account.id] = world.gateways.add(
            follower.account.id, ContextRecordingExchange()
        )
    signal = await world.signal()

    summary = await world.run(signal)

    assert summary.counts == {"filled": 4}
    for account_id, exchange in exchanges.items():
        assert isinstance(exchange, ContextRecordingExchange)
        assert exchange.seen == [(signal.id, account_id)]
