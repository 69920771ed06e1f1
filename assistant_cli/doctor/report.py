"""Showing doctor outcomes: a rich table for people, JSON for scripts.

rich is imported inside functions: `doctor --json` never draws a table.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from assistant_cli.doctor.runner import Outcome, exit_code

if TYPE_CHECKING:
    from rich.console import Console

_STYLE = {"ok": ("ok", "green"), "warn": ("warn", "yellow"), "fail": ("FAIL", "bold red"),
          "skipped": ("skip", "dim")}
_WORD = {0: "ok", 1: "warn", 2: "fail"}


def summary(outcomes: list[Outcome]) -> str:
    counts = Counter(o.result.status for o in outcomes)
    parts = [f"{counts['ok']} ok"]
    if counts["warn"]:
        parts.append(f"{counts['warn']} warning{'s' * (counts['warn'] != 1)}")
    if counts["fail"]:
        parts.append(f"{counts['fail']} failure{'s' * (counts['fail'] != 1)}")
    if counts["skipped"]:
        parts.append(f"{counts['skipped']} skipped")
    return ", ".join(parts)


def print_table(outcomes: list[Outcome], console: Console, seconds: float) -> None:
    from rich.table import Table
    from rich.text import Text

    for o in outcomes:
        for change in o.changes:
            console.print(Text(f"fixed ({o.check.id}): {change}", style="cyan"))
    table = Table(show_lines=False, expand=False)
    table.add_column("status", no_wrap=True)
    table.add_column("check", no_wrap=True)
    # fold, not ellipsis: a path cut short is no help to anyone.
    table.add_column("found", overflow="fold", ratio=3)
    table.add_column("how to fix", overflow="fold", ratio=2)
    for o in outcomes:
        word, style = _STYLE[o.result.status]
        table.add_row(Text(word, style=style), o.check.id, Text(_flat(o.result.found)),
                      Text(_flat(o.result.fix), style="yellow"))
    console.print(table)
    fixable = [o.check.id for o in outcomes if o.result.fixable and o.result.status != "ok"]
    tail = f"; `assistant-cli doctor --fix` can repair: {', '.join(fixable)}" if fixable else ""
    console.print(f"{summary(outcomes)} ({seconds:.1f} s){tail}")


def _flat(text: str) -> str:
    """Hints written for one-line errors carry indented line breaks; a cell wraps by itself."""
    return " ".join(text.split())


def as_json(outcomes: list[Outcome], seconds: float) -> dict[str, Any]:
    code = exit_code(outcomes)
    return {
        "status": _WORD[code],
        "exit_code": code,
        "seconds": round(seconds, 3),
        "checks": [{
            "id": o.check.id,
            "title": o.check.title,
            "status": o.result.status,
            "found": o.result.found,
            "fix": o.result.fix,
            "fixable": o.result.fixable,
            "changes": o.changes,
            "seconds": round(o.seconds, 3),
            "data": o.result.data,
        } for o in outcomes],
        "changes": [c for o in outcomes for c in o.changes],
    }
