"""Tool metrics for /metrics: calls and errors per tool, and a latency histogram."""

from __future__ import annotations

from typing import Any

from assistant_cli.observability.metrics import Registry


class ToolMetrics:
    """Fed by `tool.call` events (tool, outcome, duration_ms)."""

    def __init__(self, reg: Registry) -> None:
        self.calls = reg.counter("assistant_tool_calls",
                                 "Tool calls, by tool and outcome (ok, error, timeout, "
                                 "bad_args, unknown).", ["tool", "outcome"])
        self.errors = reg.counter("assistant_tool_errors",
                                  "Tool calls that did not succeed, by tool.", ["tool"])
        self.latency = reg.histogram("assistant_tool_latency_seconds",
                                     "Time a tool call took, checks included.", ["tool"])

    def observe(self, data: dict[str, Any]) -> None:
        tool, outcome = str(data.get("tool", "?")), str(data.get("outcome", "?"))
        self.calls.inc(tool=tool, outcome=outcome)
        if outcome != "ok":
            self.errors.inc(tool=tool)
        self.latency.observe(float(data.get("duration_ms") or 0.0) / 1000, tool=tool)
