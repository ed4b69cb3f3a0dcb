"""Binance USD-M: checking a follower's API key and futures account before trading."""

import logging
from typing import Any

import ccxt.async_support as ccxt

from mimic.adapters.ccxt.clients import PooledClient
from mimic.adapters.ccxt.errors import exchange_message
from mimic.adapters.ccxt.values import is_true
from mimic.domain.accounts import AccountCheck

log = logging.getLogger(__name__)


async def check_account(pooled: PooledClient, gateway: str) -> AccountCheck:
    """Whether Mimic can trade with this key: valid, futures enabled, the account able
    to trade, and no withdrawal permission; `gateway` names the account in the log."""
    client = pooled.client
    account = await client.fapiPrivateV2GetAccount()  # proves the keys and futures access
    can_trade = is_true(account.get("canTrade", True))
    dual = await client.fapiPrivateGetPositionSideDual()
    hedge = is_true(dual.get("dualSidePosition"))
    pooled.state.hedge_mode = hedge
    mode = "hedge mode" if hedge else "one-way mode"
    restrictions = await _key_restrictions(client, gateway)
    key_trade, key_withdraw = _key_permissions(restrictions)
    futures_enabled = restrictions is None or is_true(restrictions.get("enableFutures", True))
    refusal = _refusal(restrictions, futures_enabled, can_trade)
    return AccountCheck(
        ok=refusal is None,
        detail=refusal or f"credentials valid, futures trading enabled, {mode}",
        futures_enabled=futures_enabled,
        can_trade=can_trade,
        hedge_mode=hedge,
        key_can_trade=key_trade,
        key_can_withdraw=key_withdraw,
    )


def _refusal(
    restrictions: dict[str, Any] | None, futures_enabled: bool, can_trade: bool
) -> str | None:
    """Why Mimic must not trade with this key, the most serious reason first; None: it may."""
    if restrictions is not None and is_true(restrictions.get("enableWithdrawals")):
        return "the API key allows withdrawals: create a key without that permission"
    if not futures_enabled:
        return "the API key is not enabled for futures: enable Futures on the key"
    if not can_trade:
        return "the futures account cannot trade (canTrade is false)"
    return None


async def _key_restrictions(client: Any, gateway: str) -> dict[str, Any] | None:
    """The key's permissions (spot API). Optional: a key may be refused it."""
    try:
        restrictions: dict[str, Any] = await client.sapiGetAccountApiRestrictions()
    except ccxt.NetworkError:
        raise
    except ccxt.BaseError as exc:
        log.info("%s: key permissions unreadable: %s", gateway, exchange_message(exc)[1])
        return None
    return restrictions


def _key_permissions(restrictions: dict[str, Any] | None) -> tuple[bool | None, bool | None]:
    """The key's own (trade, withdraw) permissions; unknown when they were unreadable."""
    if restrictions is None:
        return None, None
    can_trade = is_true(restrictions.get("enableFutures")) or is_true(
        restrictions.get("enableSpotAndMarginTrading")
    )
    return can_trade, is_true(restrictions.get("enableWithdrawals"))
