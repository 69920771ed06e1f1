"""Log records as bus events (`log`), so gateway clients can watch the log live.

Records are redacted exactly like the JSON-lines file. Records logged from other threads
are handed to the event loop, because the bus is not thread-safe.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from assistant_cli.domain.events import EventBus, LogRecorded
from assistant_cli.observability.logs import ROOT_LOGGER, get_redactor

RESERVED = ("ts", "level", "logger", "event", "msg")


def record_data(record: logging.LogRecord) -> dict[str, Any]:
    """The same fields as a JSON-lines log line, in the shape `logs.tail` returns."""
    redactor = get_redactor()
    fields = getattr(record, "fields", None) or {}
    if not isinstance(fields, dict):
        fields = {"fields": fields}
    return {
        "ts": datetime.fromtimestamp(record.created, tz=timezone.utc).isoformat(
            timespec="milliseconds"),
        "level": record.levelname,
        "logger": record.name,
        "event": str(getattr(record, "event", None) or "log"),
        "msg": redactor.redact(record.getMessage()),
        "fields": {(f"{k}_" if k in RESERVED else str(k)): redactor.redact_value(v, str(k))
                   for k, v in fields.items()},
    }


class BusLogHandler(logging.Handler):
    """Publishes `assistant_cli.*` records as `log` events."""

    def __init__(self, events: EventBus, loop: asyncio.AbstractEventLoop,
                 wanted: Callable[[], bool] = lambda: True) -> None:
        super().__init__(logging.DEBUG)
        self.events = events
        self.loop = loop
        self.loop_thread = threading.get_ident()
        self.wanted = wanted

    def emit(self, record: logging.LogRecord) -> None:
        if not self.wanted():
            return  # nobody is watching: skip the formatting
        try:
            data = record_data(record)
        except Exception:  # never let a log call fail because of the dashboard
            return
        if threading.get_ident() == self.loop_thread:
            self.events.publish(LogRecorded(record=data))
        elif not self.loop.is_closed():
            self.loop.call_soon_threadsafe(lambda: self.events.publish(LogRecorded(record=data)))


def attach(events: EventBus, wanted: Callable[[], bool] = lambda: True) -> BusLogHandler:
    """Start publishing log records on `events`; call from the event loop's thread."""
    handler = BusLogHandler(events, asyncio.get_running_loop(), wanted)
    logging.getLogger(ROOT_LOGGER).addHandler(handler)
    return handler


def detach(handler: BusLogHandler) -> None:
    logging.getLogger(ROOT_LOGGER).removeHandler(handler)
