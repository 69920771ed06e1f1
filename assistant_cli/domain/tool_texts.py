"""Every text about tools that a chat user (or the model, on their behalf) reads.

Kept in one place so it can be marked for translation.
"""

from __future__ import annotations

ALLOW_ONCE = "Allow once"
ALLOW_CHAT = "Allow in this chat"
ALLOW_ALWAYS = "Always"
DENY = "Deny"
DECISION_LABELS = {"once": ALLOW_ONCE, "chat": ALLOW_CHAT, "always": ALLOW_ALWAYS, "deny": DENY}

DECLINED = "the user declined this tool call"
NO_CONFIRMATION = ("the user could not be asked to confirm this tool call in this chat, so it "
                   "was not run")
NOT_ALLOWED = "this sender is not allowed to use the tool {tool}"
MAX_STEPS_NOTE = ("\n\n(I stopped after {steps} tool rounds; this is the best answer I have so "
                  "far.)")
EXPIRED = "This question has expired."
CONSOLE_CHOICES = "[o]nce / [c]hat / [a]lways / [d]eny"


def using(tool: str) -> str:
    """The status line shown while a tool runs."""
    return f"using {tool}…"


def confirm_prompt(tool: str, arguments: str) -> str:
    """The question a user answers before a tool with `confirm: true` runs."""
    return f"The assistant wants to use {tool} with:\n{arguments}\nAllow it?"


def decided(tool: str, decision: str) -> str:
    """What the confirmation message says once answered."""
    label = DECISION_LABELS.get(decision, decision)
    return f"{tool}: {label}"

NOT_YOURS = "Only the person who asked can answer this."
