"""Dashboard widgets: a metric tile with a sparkline, and the prompt for a pairing code."""

from __future__ import annotations

from collections import deque
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Sparkline, Static

HISTORY = 60  # points per sparkline: one a second, the last minute


class MetricTile(Vertical):
    """A figure, its last minute as a sparkline, and its objective in the border."""

    def __init__(self, title: str, objective: str = "", *, id: str) -> None:
        super().__init__(id=id, classes="tile")
        self.border_title = title
        self.border_subtitle = objective
        self.history: deque[float] = deque(maxlen=HISTORY)

    def compose(self) -> ComposeResult:
        yield Static("-", classes="value")
        yield Sparkline([], classes="spark")
        yield Static("", classes="note")

    def show(self, value: str, note: str, point: float | None, ok: bool | None) -> None:
        """Update the figure; `ok` colours it against its objective (None: no objective)."""
        self.query_one(".value", Static).update(value)
        self.query_one(".note", Static).update(note)
        if point is not None:
            self.history.append(point)
            self.query_one(Sparkline).data = list(self.history)
        self.set_class(ok is True, "-ok")
        self.set_class(ok is False, "-bad")


class CodePrompt(ModalScreen[str | None]):
    """Asks for the pairing code the person was sent; dismisses with it (None on Esc)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, request: dict[str, Any]) -> None:
        super().__init__()
        self.request = request

    def compose(self) -> ComposeResult:
        r = self.request
        name = f" ({r['name']})" if r.get("name") else ""
        with Vertical(id="code-dialog"):
            yield Label(f"Approve {r['platform']} user {r['user_id']}{name}")
            yield Label("Pairing code they were sent:")
            yield Input(placeholder="ABCD-EFGH-JKLM", id="code", max_length=20)
            yield Label("Enter approves · Esc cancels", classes="hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        code = event.value.strip()
        self.dismiss(code or None)

    def action_cancel(self) -> None:
        self.dismiss(None)
