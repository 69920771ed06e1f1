"""The events of `serve`: what happened inside it, for metrics, logs and the gateway.

Every event is a frozen dataclass below, defined once; `NAME` is its dotted name (the name
gateway clients see, see `gateway/protocol.py` for the wire map). Publish one with
`bus.publish(MessageIn(channel=..., ...))` (domain/events.py has the bus). The older
`bus.publish("name", **data)` still works: a registered name builds its class (an unknown
field is a TypeError at once), any other name becomes an `Untyped` event that the bus
carries but no consumer understands. docs/ARCHITECTURE.md, "Adding an event", says how to
turn one into a class.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

# Event name → class, filled as the classes below are defined.
EVENT_TYPES: dict[str, type[Event]] = {}


_PAYLOAD_NAMES: dict[type[Event], tuple[str, ...]] = {}


def _payload_names(cls: type[Event]) -> tuple[str, ...]:
    names = _PAYLOAD_NAMES.get(cls)
    if names is None:
        names = _PAYLOAD_NAMES[cls] = tuple(f.name for f in fields(cls) if f.name != "ts")
    return names


@dataclass(frozen=True, kw_only=True)
class Event:
    """Something that happened: a subclass per kind of event, `ts` in Unix seconds."""

    NAME: ClassVar[str] = ""
    ts: float = field(default_factory=time.time)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.NAME:
            if cls.NAME in EVENT_TYPES:
                raise TypeError(f"event {cls.NAME!r} is defined twice")
            EVENT_TYPES[cls.NAME] = cls

    @property
    def name(self) -> str:
        return self.NAME

    @property
    def data(self) -> dict[str, Any]:
        """The payload by field name (`ts` left out): for logs and tests, not the wire."""
        return {n: getattr(self, n) for n in _payload_names(type(self))}


@dataclass(frozen=True, kw_only=True)
class Untyped(Event):
    """An event published by name only (`bus.publish("name", **data)`), not yet a class."""

    event_name: str
    payload: dict[str, Any]

    @property
    def name(self) -> str:
        return self.event_name

    @property
    def data(self) -> dict[str, Any]:
        return self.payload


# -- messages ---------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class MessageIn(Event):
    """A message was stored in the inbox (row `id`)."""

    NAME = "message.in"
    channel: str
    sender: str
    length: int
    id: int
    text: str


@dataclass(frozen=True, kw_only=True)
class MessageOut(Event):
    """A message was handled; `outcome` is answered, command, unsupported, blocked, capped
    or failed; `length` and `text` are the answer's."""

    NAME = "message.out"
    channel: str
    sender: str
    outcome: str
    latency_ms: float
    overhead_ms: float
    id: int
    length: int
    text: str


@dataclass(frozen=True, kw_only=True)
class MessageError(Event):
    """The worker failed on a message; `retry` says whether it is queued again."""

    NAME = "message.error"
    channel: str
    error: str
    retry: bool


@dataclass(frozen=True, kw_only=True)
class TurnFailed(Event):
    """No provider could answer a turn."""

    NAME = "turn.failed"
    channel: str
    kind: str
    error: str
    hint: str | None


@dataclass(frozen=True, kw_only=True)
class UsageCapped(Event):
    """A sender reached the daily token cap."""

    NAME = "usage.capped"
    channel: str
    sender: str
    cap: int


# -- providers --------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class ProviderUsage(Event):
    """Tokens one answer cost (`estimated` when the API did not count them)."""

    NAME = "provider.usage"
    provider: str
    sender: str
    channel: str
    prompt_tokens: int
    completion_tokens: int
    estimated: bool


@dataclass(frozen=True, kw_only=True)
class ProviderCallFailed(Event):
    """A provider call failed; the provider cools down for `cooldown_s` (None: it does not,
    e.g. a retry will follow or the request itself was at fault)."""

    NAME = "provider.error"
    provider: str
    kind: str
    status: int | None
    cooldown_s: float | None


@dataclass(frozen=True, kw_only=True)
class ProviderFailover(Event):
    """A turn moved from one provider to the next."""

    NAME = "provider.failover"
    from_provider: str | None
    to: str
    kind: str


@dataclass(frozen=True, kw_only=True)
class ProvidersExhausted(Event):
    """Every provider failed a turn: `{provider, kind, status, error}` for each."""

    NAME = "provider.exhausted"
    providers: tuple[dict[str, Any], ...]


# -- pairing ----------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class PairingRequested(Event):
    """An unknown sender was sent a pairing code."""

    NAME = "pairing.requested"
    channel: str
    sender: str
    sender_name: str | None = None


@dataclass(frozen=True, kw_only=True)
class PairingApproved(Event):
    """A sender was paired and has been told so."""

    NAME = "pairing.approved"
    channel: str
    sender: str


@dataclass(frozen=True, kw_only=True)
class PairingDenied(Event):
    """A pending pairing request was refused."""

    NAME = "pairing.denied"
    channel: str
    sender: str
    sender_name: str | None = None


# -- channels ---------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class ChannelFailing(Event):
    """A channel lost its platform connection and retries."""

    NAME = "channel.error"
    channel: str
    error: str


@dataclass(frozen=True, kw_only=True)
class WhatsAppWebhookError(Event):
    """Meta reported an error in a webhook."""

    NAME = "whatsapp.webhook_error"
    code: int | None
    error: str | None


@dataclass(frozen=True, kw_only=True)
class WhatsAppDeliveryFailed(Event):
    """Meta could not deliver one of our messages."""

    NAME = "whatsapp.delivery_failed"
    recipient: str
    message_id: str
    code: int | None
    error: str | None


@dataclass(frozen=True, kw_only=True)
class WhatsAppTemplateSent(Event):
    """An approved template went out instead of a reply outside the 24-hour window."""

    NAME = "whatsapp.template_sent"
    recipient: str
    template: str


@dataclass(frozen=True, kw_only=True)
class WhatsAppWindowClosed(Event):
    """A reply was not delivered: the 24-hour window was closed and no template worked."""

    NAME = "whatsapp.window_closed"
    recipient: str
    template: str | None


@dataclass(frozen=True, kw_only=True)
class WhatsAppTokenInvalid(Event):
    """The Graph API rejected our access token."""

    NAME = "whatsapp.token_invalid"
    error: str


# -- delivery ---------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class MessageFailed(Event):
    """A message was given up: its answer could not be delivered (see store/retry.py)."""

    NAME = "message.failed"
    channel: str
    id: int
    reason: str
    error: str


@dataclass(frozen=True, kw_only=True)
class NoticeSent(Event):
    """A sender whose messages were given up was told, once their channel worked again."""

    NAME = "message.notice_sent"
    channel: str
    count: int


# -- plugins and tools ------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class HandlerFailed(Event):
    """A handler plugin raised or ran out of time; the message went on without it."""

    NAME = "handler.failed"
    handler: str
    reason: str
    error: str


@dataclass(frozen=True, kw_only=True)
class ToolCalled(Event):
    """A tool call ended: `outcome` is ok, error, timeout, denied, unknown ..."""

    NAME = "tool.call"
    tool: str
    outcome: str
    duration_ms: float


@dataclass(frozen=True, kw_only=True)
class ToolConfirmAsked(Event):
    """A sender was asked whether a tool may run."""

    NAME = "tool.confirm_asked"
    tool: str
    channel: str
    sender: str


@dataclass(frozen=True, kw_only=True)
class ToolConfirmed(Event):
    """A sender answered (or did not answer) a tool confirmation."""

    NAME = "tool.confirm"
    tool: str
    decision: str
    channel: str
    sender: str


@dataclass(frozen=True, kw_only=True)
class McpReady(Event):
    """An MCP server started (or connected) and listed its tools."""

    NAME = "mcp.ready"
    server: str
    tools: int
    started_ms: float | None


@dataclass(frozen=True, kw_only=True)
class McpToolsChanged(Event):
    """An MCP server's tool list was fetched again after it changed."""

    NAME = "mcp.tools"
    server: str
    tools: int


@dataclass(frozen=True, kw_only=True)
class McpFailed(Event):
    """An MCP server could not start, or stopped; it is retried with backoff."""

    NAME = "mcp.failed"
    server: str
    error: str


# -- serve itself -----------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class MetricsReading(Event):
    """One reading of serve's metrics (the `ServeMetrics.snapshot()` object)."""

    NAME = "metrics"
    values: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class LogRecorded(Event):
    """One log record, redacted, in the shape `logs.tail` returns."""

    NAME = "log"
    record: dict[str, Any]
