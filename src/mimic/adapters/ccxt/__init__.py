"""Real exchanges through ccxt.async_support: Binance USD-M first-class, other ccxt
exchanges with perpetual swaps usable. Nothing outside this package imports ccxt.

    gateways = CcxtGateways(vault)       # APP scope; `await gateways.aclose()` at shutdown
    gateway = await gateways.for_account(account)
"""

from mimic.adapters.ccxt.binance import BinanceUsdmGateway
from mimic.adapters.ccxt.budget import WeightBudget
from mimic.adapters.ccxt.gateway import CcxtGateway
from mimic.adapters.ccxt.gateways import CcxtGateways

__all__ = ["BinanceUsdmGateway", "CcxtGateway", "CcxtGateways", "WeightBudget"]
