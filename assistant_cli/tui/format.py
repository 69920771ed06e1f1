"""Turning gateway events and readings into the short lines and figures the dashboard shows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.text import Text

from assistant_cli.domain.events import (
    MessageError,
    MessageFailed,
    MessageIn,
    MessageOut,
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

LEVEL_STYLES = {"DEBUG": "dim", "INFO": "green", "WARNING": "yellow", "ERROR": "bold red",
                "CRITICAL": "bold red"}


def clock_time(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%H:%M:%S") if ts else "--:--:--"


def duration(seconds: float) -> str:
    """3d04h, 2h05m, 4m07s, 12s."""
    s = max(0, int(seconds))
    if s >= 86400:
        return f"{s // 86400}d{s % 86400 // 3600:02d}h"
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s}s"


def megabytes(n: float | None) -> str:
    return "-" if n is None else f"{n / 1_048_576:.0f} MB"


def feed_line(name: str, data: dict[str, Any], ts: float) -> Text | None:
    """One line of the message feed for an event, or None for events it does not show.

    `data` is the event's wire form (keys as in gateway/protocol.py `WIRE_EVENTS`)."""
    who = f"{data.get('channel', '?')} {data.get('sender', '')}".strip()
    line = Text(clock_time(ts) + " ", style="dim")
    if data.get("replica"):  # several replicas on one database: which one handled it
        line.append(f"[{data['replica']}] ", style="dim")
    if name == MessageIn.NAME:
        line.append("← ", style="cyan")
        line.append(f"{who}  {data.get('length', 0)} chars")
        if data.get("text"):
            line.append(f"  {data['text']}", style="italic")
    elif name == MessageOut.NAME:
        outcome = str(data.get("outcome", "?"))
        line.append("→ ", style="green" if outcome != "failed" else "red")
        line.append(f"{who}  {outcome} in {float(data.get('latency_ms') or 0):.0f} ms")
        if data.get("text"):
            line.append(f"  {data['text']}", style="italic")
    elif name in (MessageError.NAME, TurnFailed.NAME):
        line.append("✗ ", style="bold red")
        line.append(f"{data.get('channel', '?')}: {data.get('error') or data.get('kind')}")
    elif name == PairingRequested.NAME:
        line.append("? ", style="bold yellow")
        extra = f" ({data['name']})" if data.get("name") else ""
        line.append(f"pairing requested by {who}{extra} — Pairing tab (2), then a")
    elif name == PairingApproved.NAME:
        line.append("✓ ", style="bold green")
        line.append(f"{who} is paired")
    elif name == PairingDenied.NAME:
        line.append("✗ ", style="yellow")
        line.append(f"pairing denied: {who}")
    elif name == ProviderCallFailed.NAME:
        line.append("! ", style="bold red")
        status = f" ({data['status']})" if data.get("status") else ""
        line.append(f"provider {data.get('provider')}: {data.get('kind')}{status}")
    elif name == ProviderFailover.NAME:
        line.append("! ", style="bold yellow")
        line.append(f"failover {data.get('from')} → {data.get('to')} ({data.get('kind')})")
    elif name == ProvidersExhausted.NAME:
        line.append("✗ ", style="bold red")
        kinds = ", ".join(f"{p.get('provider')}: {p.get('kind')}"
                          for p in data.get("providers") or [] if isinstance(p, dict))
        line.append(f"no provider could answer ({kinds})")
    else:
        return _tool_or_given_up_line(name, data, line)
    return line


# How a sender answered a tool confirmation (ToolConfirmed.decision), as the feed says it.
DECISIONS = {"once": "allowed once", "chat": "allowed in this chat", "always": "always allowed",
             "deny": "denied", "timeout": "not answered in time",
             "unavailable": "could not be asked"}


def _tool_or_given_up_line(name: str, data: dict[str, Any], line: Text) -> Text | None:
    """Feed lines for tool calls, tool confirmations and given-up messages."""
    if name == ToolCalled.NAME:
        outcome = str(data.get("outcome", "?"))
        line.append("⚙ ", style="green" if outcome == "ok" else "bold red")
        line.append(f"tool {data.get('tool')}  {outcome} in "
                    f"{float(data.get('duration_ms') or 0):.0f} ms")
    elif name == ToolConfirmed.NAME:
        decision = str(data.get("decision", "?"))
        allowed = decision in ("once", "chat", "always")
        line.append("✓ " if allowed else "✗ ", style="green" if allowed else "yellow")
        who = f"{data.get('channel', '?')} {data.get('sender', '')}".strip()
        line.append(f"tool {data.get('tool')}: {DECISIONS.get(decision, decision)} ({who})")
    elif name == MessageFailed.NAME:
        line.append("✗ ", style="bold red")
        line.append(f"{data.get('channel', '?')}: gave up message {data.get('id')} "
                    f"({data.get('reason')}): {data.get('error')} — assistant-cli inbox failed")
    else:
        return None
    return line


def log_line(rec: dict[str, Any]) -> Text:
    """A log record (from `logs.tail` or a `log` event) as one coloured line."""
    ts = str(rec.get("ts", ""))
    level = str(rec.get("level", "INFO"))
    text = Text()
    try:
        text.append(datetime.fromisoformat(ts).astimezone().strftime("%H:%M:%S "), style="dim")
    except ValueError:
        text.append("--:--:-- ", style="dim")
    text.append(f"{level[:4]:<4} ", style=LEVEL_STYLES.get(level, ""))
    text.append(f"{rec.get('event', '')} ", style="cyan")
    text.append(str(rec.get("msg", "")))
    return text
