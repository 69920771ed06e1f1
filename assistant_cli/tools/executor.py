"""Running one tool call safely: arguments checked, time-limited, result size-limited.

`jsonschema` is imported inside functions, at the first call that needs a schema check:
it costs start-up time that a serve without tool calls should not pay.

Nothing a model or a tool does here can crash the worker: an unknown name, arguments that
are not JSON or do not fit the schema, a tool that raises or runs too long — each becomes
an error result that goes back to the model, is logged, and is counted per tool.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from assistant_cli.domain.events import EventBus, ToolCalled
from assistant_cli.domain.tools import ToolCall, ToolResult
from assistant_cli.tools.base import Caller, Tool, reset_caller, set_caller
from assistant_cli.tools.registry import ToolRegistry

log = logging.getLogger("assistant_cli.tools")


@dataclass(frozen=True)
class Execution:
    """A call's result, how long it took, and its outcome (ok, error, timeout, bad_args,
    unknown)."""

    result: ToolResult
    outcome: str
    duration_ms: float
    tool_ms: float = 0.0  # the tool's own time (its run), without our checks around it


class ToolExecutor:
    """Runs calls against a registry with a per-call time limit and a result size limit."""

    def __init__(self, registry: ToolRegistry, events: EventBus, *, timeout: float = 30.0,
                 max_result_chars: int = 16_000) -> None:
        self.registry = registry
        self.events = events
        self.timeout = timeout
        self.max_result_chars = max_result_chars

    async def run(self, call: ToolCall, caller: Caller | None = None) -> Execution:
        started = time.monotonic()
        tool = self.registry.get(call.name)
        if tool is None:
            known = ", ".join(t.name for t in self.registry.all()) or "none"
            return self._done(call, call.name, f"unknown tool {call.name!r}; available: {known}",
                              "unknown", started)
        arguments, problem = parse_arguments(call.arguments, tool)
        if problem is not None:
            return self._done(call, tool.name, problem, "bad_args", started)
        token = set_caller(caller)
        ran = time.monotonic()
        try:
            text = await asyncio.wait_for(tool.run(arguments), timeout=self.timeout)
        except asyncio.TimeoutError:
            return self._done(call, tool.name, f"the tool did not finish within "
                              f"{self.timeout:g} s", "timeout", started, ran)
        except Exception as exc:  # a tool's failure is the model's to handle, not ours
            log.warning("tool %s failed: %s: %s", tool.name, type(exc).__name__, exc,
                        extra={"event": "tool.failed", "fields": {"tool": tool.name}})
            return self._done(call, tool.name, f"the tool failed: {type(exc).__name__}: {exc}",
                              "error", started, ran)
        finally:
            reset_caller(token)
        return self._done(call, tool.name, self._limit(text), "ok", started, ran)

    def _limit(self, text: str) -> str:
        if len(text) <= self.max_result_chars:
            return text
        return (text[: self.max_result_chars] + f"\n[truncated: the result had {len(text):,} "
                f"characters; only the first {self.max_result_chars:,} are shown]")

    def _done(self, call: ToolCall, name: str, content: str, outcome: str,
              started: float, ran: float | None = None) -> Execution:
        now = time.monotonic()
        duration = round((now - started) * 1000, 2)
        tool_ms = 0.0 if ran is None else (now - ran) * 1000
        error = outcome != "ok"
        if error:
            content = content if content.startswith("error") else f"error: {content}"
            log.info("tool %s: %s", name, content, extra={
                "event": "tool.error", "fields": {"tool": name, "outcome": outcome}})
        self.events.publish(ToolCalled(tool=name, outcome=outcome, duration_ms=duration))
        return Execution(ToolResult(call.call_id, name, content, error), outcome, duration,
                         tool_ms)


# Checking a schema itself is slow; each tool's validator is built once (per schema object).
_validators: dict[int, tuple[dict[str, Any], Any]] = {}
ANY_OBJECT: dict[str, Any] = {"type": "object"}


def _validator(schema: dict[str, Any]) -> Any:
    """A validator for `schema`, or None when the schema itself is broken."""
    import jsonschema  # only when a tool is called

    cached = _validators.get(id(schema))
    if cached is not None and cached[0] is schema:
        return cached[1]
    if len(_validators) > 1000:  # MCP servers that keep changing their tools
        _validators.clear()
    cls = jsonschema.validators.validator_for(schema)
    try:
        cls.check_schema(schema)
        validator = cls(schema)
    except jsonschema.SchemaError:
        validator = None  # a server's broken schema is not the model's fault: let it run
    _validators[id(schema)] = (schema, validator)
    return validator


def parse_arguments(text: str, tool: Tool) -> tuple[dict[str, Any], str | None]:
    """(arguments, None) when `text` is a JSON object that fits the tool's schema, else
    ({}, what is wrong) in words a model can act on."""
    try:
        value = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        return {}, f"the arguments are not valid JSON ({exc.msg} at position {exc.pos})"
    if not isinstance(value, dict):
        return {}, "the arguments must be a JSON object"
    validator = _validator(tool.parameters or ANY_OBJECT)
    if validator is not None:
        error = next(iter(validator.iter_errors(value)), None)
        if error is not None:
            where = "/".join(str(p) for p in error.absolute_path) or "arguments"
            return {}, f"the arguments do not fit the tool's schema: {where}: {error.message}"
    return value, None
