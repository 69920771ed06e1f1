"""The gateway's JSON frames (see docs/GATEWAY_PROTOCOL.md): requests, responses, events.

    client → gateway  {"type": "req", "id": ID, "method": "pairing.list", "params": {...}}
    gateway → client  {"type": "res", "id": ID, "ok": true, "result": {...}}
                      {"type": "res", "id": ID, "ok": false, "error": {"code", "message"}}
    gateway → client  {"type": "event", "event": "message.in", "seq": N, "ts": T, "data": {...}}

`seq` counts events per connection from 1; a gap means the client fell behind and the
gateway dropped that many of the oldest events for it.
"""

from __future__ import annotations

import json
from typing import Any

PROTOCOL_VERSION = 1

# Bus events a client receives. Everything else (provider.usage ...) stays inside serve.
FORWARDED_EVENTS = frozenset({
    "hello", "metrics", "log",
    "message.in", "message.out", "message.error", "message.failed", "turn.failed",
    "pairing.requested", "pairing.approved", "pairing.denied",
    "provider.error", "provider.failover", "provider.exhausted",
    "tool.call", "tool.confirm", "mcp.ready", "mcp.failed",
})
# Fields holding what people wrote or were answered: sent only with expose_message_text.
TEXT_FIELDS = ("text",)


class ProtocolError(Exception):
    """A request the gateway cannot act on; becomes an error response."""

    def __init__(self, code: str, message: str, request_id: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_id = request_id


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def parse_request(text: str) -> tuple[Any, str, dict[str, Any]]:
    """(id, method, params) of a request frame, or ProtocolError."""
    try:
        frame = json.loads(text)
    except ValueError:
        raise ProtocolError("bad_request", "frames must be JSON objects") from None
    if not isinstance(frame, dict):
        raise ProtocolError("bad_request", "frames must be JSON objects")
    request_id = frame.get("id")
    if not isinstance(request_id, str | int) or isinstance(request_id, bool):
        raise ProtocolError("bad_request", "a request needs an `id` (string or integer)")
    if frame.get("type") != "req":
        raise ProtocolError("bad_request", 'only {"type": "req"} frames are accepted',
                            request_id)
    method = frame.get("method")
    if not isinstance(method, str) or not method:
        raise ProtocolError("bad_request", "a request needs a `method`", request_id)
    params = frame.get("params", {})
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise ProtocolError("bad_request", "`params` must be an object", request_id)
    return request_id, method, params


def response_ok(request_id: Any, result: Any) -> str:
    return _dumps({"type": "res", "id": request_id, "ok": True, "result": result})


def response_error(request_id: Any, code: str, message: str) -> str:
    return _dumps({"type": "res", "id": request_id, "ok": False,
                   "error": {"code": code, "message": message}})


def encode_event_data(name: str, data: dict[str, Any], expose_text: bool) -> str | None:
    """The event's data as JSON for clients, or None when clients do not get this event."""
    if name not in FORWARDED_EVENTS:
        return None
    if not expose_text and any(f in data for f in TEXT_FIELDS):
        data = {k: v for k, v in data.items() if k not in TEXT_FIELDS}
    return _dumps(data)


def event_frame(name: str, seq: int, ts: float, data_json: str) -> str:
    # Built by hand: the data is encoded once per event, not once per client.
    return (f'{{"type":"event","event":{_dumps(name)},"seq":{seq},"ts":{ts:.3f},'
            f'"data":{data_json}}}')
