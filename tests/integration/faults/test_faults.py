"""The fault suite: Mimic in production mode (two `serve`, two workers, a scheduler, a
private Redis, Postgres, paper and Binance-stub followers) under a webhook burst, one fault
at a time. After each: every 202 has a stored signal, every eligible follower has exactly
one outcome, no client order id executed twice, no process needed a restart; and the
seconds from recovery to the first order placed are printed.

One platform serves every fault in turn, as in production. MIMIC_FAULT_ROUNDS and the
other MIMIC_FAULT_* settings (scenario.py) make the longer manual run."""

import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import create_async_engine

from mimic.adapters.crypto import FernetSecretBox, generate_key
from mimic.domain.accounts import ApiCredentials
from mimic.entrypoints.cli import bootstrap
from tests.conftest import TemplateCopies, drop_database, postgres_url_for
from tests.integration.faults.cluster import Cluster
from tests.integration.faults.faults import FAULTS
from tests.integration.faults.scenario import (
    PAPER_FOLLOWERS,
    ROUNDS,
    STUB_FOLLOWERS,
    Fault,
    Platform,
    run_round,
)
from tests.integration.harness import ADMIN_PASSWORD, PASSPHRASE, CheapHasherProvider, make_settings
from tests.integration.private_redis import private_redis
from tests.integration.processes import production_env, seed_followers, seed_stub_followers
from tests.stubs.binance import BinanceStub, running_in_thread

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def platform(
    postgres_template_copies: TemplateCopies, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Platform]:
    directory = tmp_path_factory.mktemp("faults")
    database = postgres_template_copies.take()
    url = postgres_url_for(database)
    stub = BinanceStub()
    credentials = [
        ApiCredentials(f"fault-key-{n}", f"fault-secret-{n}") for n in range(STUB_FOLLOWERS)
    ]
    for keys in credentials:
        stub.add_account(keys.api_key, keys.api_secret, wallet=Decimal(1_000_000))
    master_key = generate_key()
    engine = create_async_engine(url, pool_pre_ping=True)
    try:
        await bootstrap(make_settings(url), CheapHasherProvider())
        eligible = set(await seed_followers(engine, PAPER_FOLLOWERS, Decimal(10000)))
        box = FernetSecretBox([master_key])
        eligible |= set(await seed_stub_followers(engine, credentials, box))
        with private_redis(directory) as redis, running_in_thread(stub):
            env = production_env(
                url,
                redis.url,
                directory,
                MIMIC_ADMIN_PASSWORD=ADMIN_PASSWORD,
                MIMIC_WEBHOOK_PASSPHRASE=PASSPHRASE,
                MIMIC_MASTER_KEYS=master_key,
                MIMIC_CCXT_URL_OVERRIDES=f"binanceusdm={stub.base_url}",
                MIMIC_SWEEP_INTERVAL_SECONDS="1",
                MIMIC_INTENT_LEASE_SECONDS="6",
                MIMIC_REDIS_IDLE_TIMEOUT_SECONDS="2",
                MIMIC_RATE_LIMIT_PREFIX=f"faults-{uuid.uuid4().hex[:8]}:",
            )
            cluster = Cluster(env, directory, redis)
            async with httpx.AsyncClient() as client:
                try:
                    await cluster.start(client)
                    yield Platform(cluster, stub, engine, client, eligible, database)
                finally:
                    cluster.stop()
    finally:
        await engine.dispose()
        await drop_database(database)


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
async def test_a_fault_under_a_webhook_burst_loses_nothing_and_recovers(
    platform: Platform, fault: Fault
) -> None:
    for _ in range(ROUNDS):
        await run_round(platform, fault)
