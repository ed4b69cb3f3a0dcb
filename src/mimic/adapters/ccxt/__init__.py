"""Real exchanges through ccxt.async_support: Binance USD-M first-class, other ccxt
exchanges with perpetual swaps usable. Nothing outside this package imports ccxt.

    gateways = CcxtGateways(vault)       # APP scope; `await gateways.aclose()` at shutdown
    gateway = await gateways.for_account(account)

Importing ccxt costs seconds of CPU, so this package imports it only when one of the names
below is first used: the composition root wires `lazy.LazyCcxtGateways` and
`lazy.LazyCcxtAccountStream`, and a process that trades on the paper exchange alone never
imports ccxt at all.
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mimic.adapters.ccxt.binance import BinanceUsdmGateway
    from mimic.adapters.ccxt.budget import WeightBudget
    from mimic.adapters.ccxt.gateway import CcxtGateway
    from mimic.adapters.ccxt.gateways import CcxtGateways

__all__ = ["BinanceUsdmGateway", "CcxtGateway", "CcxtGateways", "WeightBudget"]

_HOMES = {
    "BinanceUsdmGateway": "mimic.adapters.ccxt.binance",
    "CcxtGateway": "mimic.adapters.ccxt.gateway",
    "CcxtGateways": "mimic.adapters.ccxt.gateways",
    "WeightBudget": "mimic.adapters.ccxt.budget",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
