"""Local stand-ins for the external services Mimic talks to (Binance, Plisio, SMTP, Telegram)."""
