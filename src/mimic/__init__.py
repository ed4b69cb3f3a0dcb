"""Mimic: one TradingView signal, fanned out as orders on every follower\x27s exchange account."""
