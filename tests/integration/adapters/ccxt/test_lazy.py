"""ccxt is imported when a ccxt exchange is first used, never by a paper-only process."""

import subprocess
import sys
import textwrap
from pathlib import Path

from mimic.adapters.ccxt.lazy import LazyCcxtAccountStream, LazyCcxtGateways
from tests.fakes.services import FixedClock

ROOT = Path(__file__).resolve().parents[4]

PAPER_FANOUT = textwrap.dedent(
    """
    import asyncio, sys
    from decimal import Decimal

    from mimic.adapters.sqlalchemy.engine import create_engine
    from mimic.entrypoints.runtime import run_event_loop
    from tests.integration.harness import make_settings, running_platform
    from tests.integration.processes import seed_followers

    async def main(url):
        async with running_platform(make_settings(url)) as api:
            engine = create_engine(url)
            await seed_followers(engine, 3, Decimal(10000))
            await engine.dispose()
            await api.set_price("XRPUSDT", "0.6")
            signal = await api.signal(symbol="XRPUSDT", action="long")
            report = await api.settled_report(signal["signal_id"])
            assert report["counts"] == {"filled": 3}, report["counts"]
        print("imported:", sorted(m for m in sys.modules if m.split(".")[0] == "ccxt"))

    run_event_loop(main(sys.argv[1]))
    """
)


def test_a_paper_only_platform_fans_a_signal_out_without_importing_ccxt(
    sqlite_url: str,
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PAPER_FANOUT, sqlite_url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "imported: []"


class NoVault:
    async def credentials_for(self, account: object) -> object:
        raise AssertionError("no account is used here")


async def test_the_ccxt_adapter_is_built_on_first_use_only() -> None:
    gateways = LazyCcxtGateways(NoVault(), api_origins={})
    stream = LazyCcxtAccountStream(NoVault(), FixedClock())
    await gateways.discard("a0")
    assert not gateways.loaded

    assert stream.supports("binanceusdm")
    assert not stream.supports("paper")
    assert not stream.loaded  # which exchanges stream is known without ccxt

    assert gateways.supports("binanceusdm")
    assert not gateways.supports("paper")
    assert gateways.loaded
    await gateways.aclose()
    await stream.aclose()
