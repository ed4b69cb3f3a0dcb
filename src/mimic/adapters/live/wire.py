"""The bytes a live event travels as, from any publisher to the page's WebSocket."""

import json

from mimic.ports.live_events import LiveEvent


def encode_event(event: LiveEvent) -> bytes:
    return json.dumps({"kind": event.kind, "data": dict(event.data)}).encode()


def decode_event(raw: bytes) -> LiveEvent:
    body = json.loads(raw)
    return LiveEvent(kind=str(body["kind"]), data={k: str(v) for k, v in body["data"].items()})
