"""The dashboard's modal screens: yes/no confirmation and the `?` help overlay."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, Static

HELP = """\
Keys
  1-5        switch tabs: activity, pairing, health, logs, senders
  a          approve the selected pairing request (asks for its code)
  d          deny the selected pairing request (asks to confirm)
  x          revoke the selected approved sender (asks to confirm)
  l          change the log level shown
  /          filter the log by text (Esc clears the filter)
  r          reconnect now
  ?          this help (Esc or ? closes it)
  q          quit"""


class Confirm(ModalScreen[bool]):
    """Asks a yes/no question; y or Enter confirms, n or Esc cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y,enter", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-dialog"):
            yield Label(self.question, id="confirm-question")
            yield Label("y confirms · n or Esc cancels", classes="hint")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class Help(ModalScreen[None]):
    """What every key does."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "close", "Close"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="help-dialog"):
            yield Static(HELP, id="help-text")

    def action_close(self) -> None:
        self.dismiss(None)
