"""Showing doctor outcomes: one line per check for people (details under the ones that
need attention), JSON for scripts.

rich is imported inside functions: `doctor --json` and piped output never draw with it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from assistant_cli.doctor.runner import Outcome, exit_code

if TYPE_CHECKING:
    from rich.console import Console

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


_MARK = {"ok": ("✓", "green"), "warn": ("!", "yellow"), "fail": ("✗", "bold red"),
         "skipped": ("-", "dim")}
_ASCII = {"✓": "+", "✗": "x"}


@dataclass(frozen=True)
class Layout:
    """How to lay the report out: `width` None means never wrap or cut (piped output)."""

    width: int | None = None
    verbose: bool = False
    unicode: bool = True


def report_lines(outcomes: list[Outcome], seconds: float,
                 layout: Layout) -> list[tuple[str, str]]:
    """(text, style) lines: one per check with a mark; finding and fix indented under the
    checks that need attention (all of them with --verbose); skipped checks on one line."""
    lines: list[tuple[str, str]] = []
    for o in outcomes:
        for change in o.changes:
            lines.append((f"fixed ({o.check.id}): {change}", "cyan"))
    pad = max(len(o.check.id) for o in outcomes) + 2
    fixes_shown: dict[str, str] = {}
    skipped = [o for o in outcomes if o.result.status == "skipped"]
    for o in outcomes:
        status = o.result.status
        if status == "skipped" and not layout.verbose:
            continue
        mark, style = _MARK[status]
        mark = mark if layout.unicode else _ASCII.get(mark, mark)
        attention = status in ("warn", "fail")
        head = f"{mark} {o.check.id:<{pad}}"
        if attention or layout.verbose:
            lines.append((head + o.check.title, style))
            lines += _indented(_flat(o.result.found), "    ", layout.width, "")
            if o.result.fix:
                fix = _flat(o.result.fix)
                same = fixes_shown.get(fix)
                fix = f"as for {same} above" if same else fix
                fixes_shown.setdefault(_flat(o.result.fix), o.check.id)
                lines += _indented(fix, "    fix: ", layout.width, "yellow")
        else:
            lines.append((_cut(head + _flat(o.result.found), layout.width), style))
    if skipped and not layout.verbose:
        names = ", ".join(o.check.id for o in skipped)
        lines += _indented(f"skipped: {names} (--verbose says why)", "- ", layout.width, "dim")
    fixable = [o.check.id for o in outcomes if o.result.fixable and o.result.status != "ok"]
    tail = f"; `assistant-cli doctor --fix` can repair: {', '.join(fixable)}" if fixable else ""
    lines += _indented(f"{summary(outcomes)} ({seconds:.1f} s){tail}", "", layout.width, "")
    return lines


def _indented(text: str, first: str, width: int | None, style: str) -> list[tuple[str, str]]:
    """`text` after `first`, wrapped to `width` with continuation lines aligned under it."""
    if width is None:
        return [(first + text, style)]
    import textwrap

    rest = " " * len(first)
    wrapped = textwrap.wrap(text, width=max(width, len(first) + 20), initial_indent=first,
                            subsequent_indent=rest, break_on_hyphens=False,
                            break_long_words=True)
    return [(line, style) for line in wrapped or [first.rstrip()]]


def _cut(line: str, width: int | None) -> str:
    """One line per passing check on a terminal; --verbose and piped output keep it all."""
    return line if width is None or len(line) <= width else line[: width - 1] + "…"


def print_report(outcomes: list[Outcome], console: Console, seconds: float,
                 *, verbose: bool = False) -> None:
    from rich.text import Text

    tty = console.is_terminal
    layout = Layout(width=console.width if tty else None, verbose=verbose,
                    unicode=(console.encoding or "").lower().startswith("utf"))
    for text, style in report_lines(outcomes, seconds, layout):
        console.print(Text(text, style=style if tty else ""), soft_wrap=True)


def _flat(text: str) -> str:
    """Hints written for one-line errors carry indented line breaks; wrapping redoes them."""
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
