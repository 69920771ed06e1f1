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
from dataclasses import dataclass
from typing import Any

from assistant_cli.domain.events import (
    Event,
    LogRecorded,
    McpFailed,
    McpReady,
    MessageError,
    MessageFailed,
    MessageIn,
    MessageOut,
    MetricsReading,
    PairingApproved,
    PairingDenied,
    PairingRequested,
    ProviderCallFailed,
    ProviderFailover,
    ProvidersExhausted,
    ToolCalled,
    ToolConfirmed,
    TurnFailed,
)

PROTOCOL_VERSION = 1


@dataclass(frozen=True)
class WireEvent:
    """How one bus event looks to clients: `fields` as (wire key, attribute) pairs, or
    `spread`, the attribute whose dict is the whole data object."""

    fields: tuple[tuple[str, str], ...] = ()
    spread: str | None = None


def _keys(*keys: str) -> WireEvent:
    """`"key"` sends the attribute of that name; `"wire=attribute"` renames it."""
    pairs = (k.split("=", 1) if "=" in k else (k, k) for k in keys)
    return WireEvent(fields=tuple((wire, attr) for wire, attr in pairs))


# The bus events a client receives, and their data. Everything else (provider.usage ...)
# stays inside serve. tests/test_gateway_protocol_doc.py holds docs/GATEWAY_PROTOCOL.md to
# this map and makes every new field of these events a decision made here.
WIRE_EVENTS: dict[type[Event], WireEvent] = {
    MessageIn: _keys("channel", "sender", "length", "id", "text"),
    MessageOut: _keys("channel", "sender", "outcome", "latency_ms", "overhead_ms", "id",
                      "length", "text"),
    MessageError: _keys("channel", "error", "retry"),
    MessageFailed: _keys("channel", "id", "reason", "error"),
    TurnFailed: _keys("channel", "kind", "error", "hint"),
    PairingRequested: _keys("channel", "sender", "name=sender_name"),
    PairingApproved: _keys("channel", "sender"),
    PairingDenied: _keys("channel", "sender", "name=sender_name"),
    ProviderCallFailed: _keys("provider", "kind", "status", "cooldown_s"),
    ProviderFailover: _keys("from=from_provider", "to", "kind"),
    ProvidersExhausted: _keys("providers"),
    MetricsReading: WireEvent(spread="values"),
    LogRecorded: WireEvent(spread="record"),
    ToolCalled: _keys("tool", "outcome", "duration_ms"),
    ToolConfirmed: _keys("tool", "decision", "channel", "sender"),
    McpReady: _keys("server", "tools", "started_ms"),
    McpFailed: _keys("server", "error"),
}
# The first event of every connection, sent by the gateway itself (not a bus event).
HELLO = "hello"
HELLO_FIELDS = ("version", "protocol", "sub", "exp")
# Each replica's role and figures, every 2 s, on a shared PostgreSQL state (app/replicas.py).
REPLICA_METRICS = "replica.metrics"
FORWARDED_EVENTS = frozenset({HELLO, REPLICA_METRICS} | {cls.NAME for cls in WIRE_EVENTS})
# Fields holding what people wrote or were answered: sent only with expose_message_text.
TEXT_FIELDS = frozenset({"text"})


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


def encode_event(event: Event, expose_text: bool) -> str | None:
    """The event's data as JSON for clients, or None when clients do not get this event."""
    wire = WIRE_EVENTS.get(type(event))
    if wire is None:
        return None
    if wire.spread is not None:
        return _dumps(getattr(event, wire.spread))
    return _dumps({key: getattr(event, attr) for key, attr in wire.fields
                   if expose_text or key not in TEXT_FIELDS})


def encode_hello(version: str, sub: str, exp: float) -> str:
    """The data of the `hello` event."""
    return _dumps(dict(zip(HELLO_FIELDS, (version, PROTOCOL_VERSION, sub, exp), strict=True)))


def event_frame(name: str, seq: int, ts: float, data_json: str) -> str:
    # Built by hand: the data is encoded once per event, not once per client.
    return (f'{{"type":"event","event":{_dumps(name)},"seq":{seq},"ts":{ts:.3f},'
            f'"data":{data_json}}}')
