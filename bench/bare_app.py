"""The floor of bench/intake.py: a Litestar endpoint that only decodes the JSON body."""

from typing import Any

from litestar import Litestar, post


@post("/webhook", status_code=202)
async def bare_webhook(data: dict[str, Any]) -> dict[str, Any]:
    return {"signal_id": "x", "duplicate": False}


app = Litestar(route_handlers=[bare_webhook])
