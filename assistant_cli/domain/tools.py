"""Tool calls as the model asks for them and as their results go back (ground floor)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ToolSpec:
    """A tool as offered to a model: `name` like `files.read_text`, a JSON schema."""

    name: str
    description: str
    parameters: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ToolCall:
    """One call the model asked for; `arguments` is the JSON text exactly as it sent it."""

    call_id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class ToolResult:
    """What goes back to the model for one call; `is_error` when it did not succeed."""

    call_id: str
    name: str
    content: str
    is_error: bool = False


@dataclass(frozen=True)
class ToolCallRequested:
    """A stream event: the model asked for this call (assembled from its fragments)."""

    call: ToolCall


def wire_name(name: str) -> str:
    """The name a model API accepts (letters, digits, `_`, `-`): `files.read` → `files__read`."""
    return name.replace(".", "__")


class StatusNote(str):
    """A delta that is only a passing status ("using files.read…"): channels that show
    status (`Channel.shows_status`) display it in the draft; it is never part of the answer."""


@dataclass(frozen=True)
class ConfirmRequest:
    """A question to the user before a tool runs; answered "once", "chat", "always" or
    "deny" (or not at all within `timeout` seconds)."""

    tool: str
    arguments: str  # pretty JSON, as shown to the user
    prompt: str  # already in the sender's language
    timeout: float
    language: str = "en"  # the sender's catalog: the buttons and notes use it too


DECISIONS = ("once", "chat", "always", "deny")
