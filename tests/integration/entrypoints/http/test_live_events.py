"""Live events over the real socket: a page hears its own user's events (and an admin's the
platform's) within a second; nobody else's; not without a session; not from another site."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from redis.asyncio import Redis
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from mimic.adapters.live.pages import OpenPages
from mimic.adapters.live.redis_pubsub import CHUNK, RedisLiveEvents, RedisPageFeed
from mimic.ports.live_events import LiveEvent, user_audience
from tests.integration.harness import (
    FOLLOWER_PASSWORD,
    PASSPHRASE,
    make_settings,
    register_user,
)
from tests.integration.served import Served, served_platform

EVENT_WITHIN = 2.0  # seconds; the issue asks for 1 s, the shared machine gets slack


async def _follower(served: Served, admin: str, username: str) -> str:
    """Registers a follower with an approved paper connection; returns their Cookie header."""
    await register_user(served.client, username)
    cookie = await served.session_cookie(username, FOLLOWER_PASSWORD)
    token = cookie.split("mimic_session=", 1)[1].split(";", 1)[0]
    bearer = {"Authorization": f"Bearer {token}"}
    response = await served.client.post(
        "/api/exchanges", json={"exchange": "paper"}, headers=bearer
    )
    assert response.status_code == 201, response.text
    account_id = response.json()["id"]
    response = await served.client.post(
        f"/api/admin/exchanges/{account_id}/approve",
        headers={"Authorization": f"Bearer {admin}"},
    )
    assert response.status_code == 200, response.text
    return cookie


async def _next_event(socket: ClientConnection, kind: str) -> dict[str, Any]:
    """The next event of `kind`, skipping others; fails after EVENT_WITHIN seconds."""
    async with asyncio.timeout(EVENT_WITHIN):
        while True:
            event: dict[str, Any] = json.loads(await socket.recv())
            if event["kind"] == kind:
                return event


async def test_a_fill_reaches_the_followers_page_and_the_admins_not_another_follower(
    database_url: str,
) -> None:
    async with served_platform(make_settings(database_url)) as served:
        admin = await served.admin_token()
        alice = await _follower(served, admin, "alice")
        # Bob is not approved for trading: nothing about Alice's orders may reach him.
        await register_user(served.client, "bob")
        bob_cookie = await served.session_cookie("bob", FOLLOWER_PASSWORD)
        admin_cookie = await served.session_cookie("admin", "admin-password-for-tests")
        async with (
            connect(served.ws_url, additional_headers={"Cookie": alice}) as alice_page,
            connect(served.ws_url, additional_headers={"Cookie": admin_cookie}) as admin_page,
            connect(served.ws_url, additional_headers={"Cookie": bob_cookie}) as bob_page,
        ):
            response = await served.client.post(
                "/webhook", json={"passphrase": PASSPHRASE, "symbol": "BTCUSDT", "action": "long"}
            )
            assert response.status_code == 202, response.text
            signal_id = response.json()["signal_id"]

            filled = await _next_event(alice_page, "order.filled")
            progress = await _next_event(admin_page, "signal.progress")

            assert filled["data"]["signal_id"] == signal_id
            assert filled["data"]["symbol"] == "BTCUSDT"
            assert progress["data"]["signal_id"] == signal_id
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.5):
                    await bob_page.recv()
            metrics = (await served.client.get("/metrics")).text
            assert "\nmimic_dashboard_connections 3.0\n" in metrics


async def test_no_session_no_socket_and_another_sites_page_is_turned_away(
    sqlite_url: str,
) -> None:
    async with served_platform(make_settings(sqlite_url)) as served:
        for headers in ({}, {"Cookie": "mimic_session=forged"}):
            with pytest.raises(InvalidStatus) as refused:
                async with connect(served.ws_url, additional_headers=headers):
                    pass
            assert refused.value.response.status_code in {401, 403}
        cookie = await served.session_cookie("admin", "admin-password-for-tests")
        with pytest.raises(InvalidStatus) as refused:
            async with connect(
                served.ws_url,
                additional_headers={"Cookie": cookie},
                origin="http://evil.example",  # type: ignore[arg-type]
            ):
                pass
        assert refused.value.response.status_code == 403
        host = served.base_url.removeprefix("http://")
        async with connect(
            served.ws_url,
            additional_headers={"Cookie": cookie},
            origin=f"http://{host}",  # type: ignore[arg-type]
        ) as socket:
            await socket.ping()


@asynccontextmanager
async def published_through_redis(
    redis_url: str, audience: str
) -> AsyncIterator[tuple[RedisLiveEvents, asyncio.Queue[bytes]]]:
    """A publisher as a worker has one, and a web process's page open for `audience`."""
    prefix = f"mimic-test:live:{uuid.uuid4().hex[:8]}:"
    publisher_client = Redis.from_url(redis_url)
    pages = OpenPages(RedisPageFeed(Redis.from_url(redis_url), prefix=prefix))
    heard: asyncio.Queue[bytes] = asyncio.Queue()

    async def send(payload: bytes) -> None:
        heard.put_nowait(payload)

    try:
        async with pages.running(), pages.page([audience], send):
            yield RedisLiveEvents(publisher_client, prefix=prefix), heard
    finally:
        await publisher_client.aclose()


async def test_events_cross_processes_through_redis(redis_url: str) -> None:
    """What a worker process publishes reaches the pages open in a web process."""
    async with published_through_redis(redis_url, user_audience("u1")) as (publisher, heard):
        await publisher.publish_many(
            [
                (user_audience("u2"), LiveEvent("order.filled", {"intent_id": "other"})),
                (user_audience("u1"), LiveEvent("order.filled", {"intent_id": "mine"})),
            ]
        )
        async with asyncio.timeout(EVENT_WITHIN):
            raw = await heard.get()
        body = json.loads(raw)
        assert (body["kind"], body["data"]) == ("order.filled", {"intent_id": "mine"})
        await asyncio.sleep(0.2)
        assert heard.empty()


async def test_a_fan_outs_worth_of_events_is_published_in_chunks(redis_url: str) -> None:
    """Thousands of events in one call: every chunk's script runs, in order."""
    others = [(user_audience(f"other{n}"), LiveEvent("order.filled")) for n in range(2 * CHUNK)]
    mine = [(user_audience("u1"), LiveEvent("order.filled", {"n": str(n)})) for n in range(3)]
    async with published_through_redis(redis_url, user_audience("u1")) as (publisher, heard):
        await publisher.publish_many([mine[0], *others[:CHUNK], mine[1], *others[CHUNK:], mine[2]])
        numbers = []
        async with asyncio.timeout(EVENT_WITHIN):
            while len(numbers) < len(mine):
                numbers.append(json.loads(await heard.get())["data"]["n"])
    assert numbers == ["0", "1", "2"]
