"""The bytes a live event travels as, from any publisher to the page's WebSocket."""

import json

import msgspec

from mimic.ports.live_events import LiveEvent

_encoder = msgspec.json.Encoder()


def encode_event(event: LiveEvent) -> bytes:
    # msgspec: a fan-out encodes one per order, and json.dumps takes several times longer.
    return _encoder.encode({"kind": event.kind, "data": dict(event.data)})


def decode_event(raw: bytes) -> LiveEvent:
    body = json.loads(raw)
    return LiveEvent(kind=str(body["kind"]), data={k: str(v) for k, v in body["data"].items()})
