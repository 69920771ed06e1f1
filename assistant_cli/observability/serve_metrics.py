"""The metrics of a running `serve`, fed by the event bus: what /metrics and the dashboard show.

Objectives come from the specification (§4.1): message-processing latency P99 under
500 ms, success rate above 99.9 %, CPU under 70 % (of one core: `serve` is one event
loop, so one core is what saturates). Success rate is over handled messages in the last
five minutes: everything but `failed` outcomes and worker errors counts as a success.
Latency percentiles are over the last minute (sorting a longer window every second would
itself delay messages).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from assistant_cli.domain.events import (
    Consumer,
    Event,
    EventBus,
    HandlerFailed,
    MessageError,
    MessageFailed,
    MessageIn,
    MessageOut,
    PairingRequested,
    ProviderCallFailed,
    ProviderFailover,
    ToolCalled,
)
from assistant_cli.observability.metrics import (
    BucketWindow,
    ProcessStats,
    Registry,
    SlidingWindow,
)
from assistant_cli.observability.tool_metrics import ToolMetrics

OBJECTIVES = {"latency_p99_ms": 500.0, "success_rate": 0.999, "cpu_percent": 70.0}
WINDOW_SECONDS = 300.0
LATENCY_WINDOW_SECONDS = 60.0


class ServeMetrics:
    """Counters and windows updated from events; `snapshot()` for the gateway."""

    def __init__(self, queue_depth: Callable[[], int], *,
                 clock: Callable[[], float] = time.monotonic,
                 failed_count: Callable[[], int] = lambda: 0) -> None:
        self.queue_depth = queue_depth
        self.failed_count = failed_count  # given-up messages in the inbox now
        self.clock = clock
        self.started = clock()
        self.process = ProcessStats()
        # Set by the gateway once it exists.
        self.client_count: Callable[[], int] = lambda: 0
        reg = self.registry = Registry()
        self.received = reg.counter("assistant_messages_received",
                                    "Messages stored in the inbox, by channel.", ["channel"])
        self.handled = reg.counter(
            "assistant_messages", "Messages handled, by channel and outcome (answered, "
            "command, unsupported, blocked, capped, failed, error).", ["channel", "outcome"])
        self.latency = reg.histogram(
            "assistant_message_latency_seconds",
            "Time from claiming a message to finishing it, model time included.", ["channel"])
        self.overhead = reg.histogram(
            "assistant_message_overhead_seconds",
            "Time spent handling answered messages outside the model's own streaming.",
            ["channel"])
        self.provider_errors = reg.counter("assistant_provider_errors",
                                           "Failed provider calls, by provider and error class.",
                                           ["provider", "kind"])
        self.failovers = reg.counter("assistant_provider_failovers",
                                     "Turns handed to the next provider.", ["from_provider", "to"])
        self.pairing_requests = reg.counter("assistant_pairing_requests",
                                            "Pairing codes sent to unknown senders.", ["channel"])
        self.handler_failures = reg.counter(
            "assistant_handler_failures", "Handler plugins skipped for a message, by handler "
            "and reason (error, timeout).", ["handler", "reason"])
        reg.gauge("assistant_queue_depth", "Messages waiting in the inbox.",
                  lambda: float(self.queue_depth()))
        self.given_up = reg.counter(
            "assistant_messages_given_up", "Messages whose answer could not be delivered and "
            "was given up, by channel and reason (permanent, expired, attempts).",
            ["channel", "reason"])
        reg.gauge("assistant_inbox_failed", "Given-up messages in the inbox (`assistant-cli "
                  "inbox failed` lists them).", lambda: float(self.failed_count()))
        reg.gauge("assistant_gateway_clients", "Connected WebSocket clients.",
                  lambda: float(self.client_count()))
        reg.gauge("process_cpu_percent", "CPU used by this process, % of one core.",
                  self.process.cpu_percent)
        reg.gauge("process_resident_memory_bytes", "Resident memory of this process.",
                  lambda: float(self.process.rss_bytes()))
        reg.gauge("process_start_time_seconds", "When this process started (Unix time).",
                  lambda: self.process.started_at)
        self.cpu_seconds = reg.counter("process_cpu_seconds", "User and system CPU time.")
        self.tools = ToolMetrics(reg)
        self.handler_errors = reg.counter(
            "assistant_event_handler_errors",
            "Events a bus consumer (serve-metrics, gateway-hub ...) raised on and skipped.",
            ["consumer"])
        self._bus: EventBus | None = None
        self._latencies = SlidingWindow(LATENCY_WINDOW_SECONDS, clock=clock)
        self._overheads = SlidingWindow(LATENCY_WINDOW_SECONDS, clock=clock)
        self._outcomes = BucketWindow(WINDOW_SECONDS, clock=clock)  # 1.0 success, 0.0 not
        self._per_minute = BucketWindow(60.0, clock=clock)
        self._consumer: Consumer | None = None

    # -- feeding ------------------------------------------------------------------------
    def handle(self, event: Event) -> None:
        """Account for one event (events it does not count are ignored)."""
        if isinstance(event, MessageOut):
            self._message_out(event)
        elif isinstance(event, MessageIn):
            self.received.inc(channel=event.channel)
        elif isinstance(event, MessageError):
            self.handled.inc(channel=event.channel, outcome="error")
            self._outcomes.add(0.0)
            self._per_minute.add()
        elif isinstance(event, ProviderCallFailed):
            self.provider_errors.inc(provider=event.provider, kind=event.kind)
        else:
            self._other(event)

    def _other(self, event: Event) -> None:
        if isinstance(event, ProviderFailover):
            self.failovers.inc(from_provider=str(event.from_provider), to=event.to)
        elif isinstance(event, PairingRequested):
            self.pairing_requests.inc(channel=event.channel)
        elif isinstance(event, MessageFailed):
            self.given_up.inc(channel=event.channel, reason=event.reason)
        elif isinstance(event, HandlerFailed):
            self.handler_failures.inc(handler=event.handler, reason=event.reason)
        elif isinstance(event, ToolCalled):
            self.tools.observe(event.data)

    def _message_out(self, event: MessageOut) -> None:
        self.handled.inc(channel=event.channel, outcome=event.outcome)
        self.latency.observe(event.latency_ms / 1000, channel=event.channel)
        self._latencies.add(event.latency_ms)
        if event.outcome == "answered":
            self.overhead.observe(event.overhead_ms / 1000, channel=event.channel)
            self._overheads.add(event.overhead_ms)
        self._outcomes.add(0.0 if event.outcome == "failed" else 1.0)
        self._per_minute.add()

    def start(self, events: EventBus) -> None:
        """Consume the bus in a background task (a bounded queue: never slows publishers)."""
        self._bus = events
        self._consumer = events.consume(self.handle, name="serve-metrics")

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

    def windows(self) -> list[SlidingWindow | BucketWindow]:
        """The sliding windows (their len() is what they hold in memory)."""
        return [self._latencies, self._overheads, self._outcomes, self._per_minute]

    # -- reading ------------------------------------------------------------------------
    def render(self) -> str:
        """Prometheus text format."""
        cpu = self.process.cpu_seconds()
        self.cpu_seconds.values[()] = cpu
        if self._bus is not None:  # counted by the bus itself: the consumer may be the victim
            for consumer, count in self._bus.handler_errors.items():
                self.handler_errors.values[(consumer,)] = float(count)
        return self.registry.render()

    def snapshot(self) -> dict[str, Any]:
        """One JSON-friendly reading: what the dashboard plots every second."""
        handled = self._outcomes.count()
        p50, p99 = self._latencies.percentiles(50, 99)
        (overhead_p99,) = self._overheads.percentiles(99)
        return {
            "uptime_s": round(self.clock() - self.started, 1),
            "messages_total": int(self.handled.total()),
            "received_total": int(self.received.total()),
            "messages_per_min": self._per_minute.count(),
            "latency_p50_ms": None if p50 is None else round(p50, 1),
            "latency_p99_ms": None if p99 is None else round(p99, 1),
            "overhead_p99_ms": None if overhead_p99 is None else round(overhead_p99, 2),
            "success_rate": round(self._outcomes.sum() / handled, 5) if handled else None,
            "provider_errors_total": int(self.provider_errors.total()),
            "cpu_percent": self.process.cpu_percent(),
            "rss_bytes": self.process.rss_bytes(),
            "queue_depth": self.queue_depth(),
            "failed_messages": self.failed_count(),
            "objectives": dict(OBJECTIVES),
        }
