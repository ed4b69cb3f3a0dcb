"""The signal intake: TradingView's alert in, 202 out (docs/architecture.md, steps 1-6)."""

from typing import Any

import msgspec
from dishka.integrations.litestar import FromDishka
from litestar import Controller, Request, Response, post
from litestar.exceptions import HTTPException
from litestar.status_codes import HTTP_200_OK, HTTP_202_ACCEPTED

from mimic.application.receive_signal import ReceiveSignal, ReceiveSignalCommand
from mimic.application.throttle import LocalThrottle
from mimic.domain.alerts import decode_key_value_alert
from mimic.entrypoints.config import Settings
from mimic.entrypoints.http.contract import WEBHOOK_BODY, errors
from mimic.entrypoints.http.web_security import address_in, client_ip
from mimic.entrypoints.http.webhook.schemas import WebhookAccepted
from mimic.ports.health import StoreOutages

WEBHOOK_MAX_BODY = 64 * 1024


def _alert_payload(body: bytes) -> dict[str, Any]:
    """A JSON object, or OctoBot's KEY=VALUE lines: TradingView sends the alert text as it is
    (as text/plain unless it is valid JSON), so the body is read raw whatever its type says."""
    try:
        payload = msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        lines = decode_key_value_alert(body.decode("utf-8", errors="replace"))
        if lines is None:
            raise HTTPException(
                status_code=400,
                detail=f"body is neither JSON nor KEY=VALUE lines: {exc}",
            ) from None
        return dict(lines)
    if not isinstance(payload, dict):
        raise HTTPException(status_code=400, detail="body must be a JSON object")
    return payload


class WebhookController(Controller):
    path = "/webhook"

    @post(
        "/",
        operation_id="receive_webhook",
        request_max_body_size=WEBHOOK_MAX_BODY,
        status_code=HTTP_202_ACCEPTED,
        operation_class=WEBHOOK_BODY,
        responses=errors(401, 403, 422, 429, 503),
    )
    async def receive(
        self,
        request: Request[Any, Any, Any],
        receive_signal: FromDishka[ReceiveSignal],
        throttle: FromDishka[LocalThrottle],
        settings: FromDishka[Settings],
        store_outages: FromDishka[StoreOutages],
    ) -> Response[WebhookAccepted]:
        ip = client_ip(request, settings.trusted_proxies)
        if settings.webhook_allowed_ips and not address_in(ip, settings.webhook_allowed_ips):
            raise HTTPException(
                status_code=403, detail=f"{ip} is not an allowed sender (MIMIC_WEBHOOK_ALLOWED_IPS)"
            )
        # Counted in this process: the signal is stored before anything waits on Redis.
        await throttle.check("webhook", (f"ip:{ip}", throttle.limits.webhook_per_ip))
        payload = _alert_payload(await request.body())
        try:
            result = await receive_signal(ReceiveSignalCommand(payload=payload))
        except Exception as exc:
            if not store_outages.is_outage(exc):
                raise
            # Never a 202 for an alert that may not be stored: TradingView resends a 5xx.
            raise HTTPException(
                status_code=503,
                detail="the database is unavailable: the alert was not accepted, send it again",
                headers={"Retry-After": "5"},
            ) from None
        return Response(
            WebhookAccepted(signal_id=result.signal_id, duplicate=result.duplicate),
            status_code=HTTP_200_OK if result.duplicate else HTTP_202_ACCEPTED,
        )
