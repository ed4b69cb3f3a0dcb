"""Telegram Bot API over httpx."""
