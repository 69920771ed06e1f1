"""How commands print what they list or show: one helper, three forms.

- On a terminal: a Rich table whose cells wrap (folded, never cut with "…").
- Piped (stdout not a TTY): plain tab-separated rows, no header, no colour, nothing cut, as
  `gh` does, so that `grep`, `cut -f` and `awk -F'\\t'` work on them. Rich is not even
  imported on this path, which keeps scripted calls fast.
- `--json`: one JSON document (an object) with stable keys and ISO-8601 UTC times.

The shapes of every command's rows and documents are listed in docs/output.md.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

import typer

JsonOpt = Annotated[bool, typer.Option(
    "--json", help="Print one JSON document with ISO-8601 UTC times (see docs/output.md).")]


@dataclass(frozen=True)
class Cell:
    """A cell with a Rich style for the terminal; piped and JSON output use only `text`."""

    text: str
    style: str = ""


@dataclass
class Table:
    """Rows to print under `headers`; `title` is shown on a terminal only."""

    headers: Sequence[str]
    rows: list[Sequence[str | Cell]] = field(default_factory=list)
    title: str | None = None

    def add(self, *cells: str | Cell) -> None:
        self.rows.append(cells)


def stdout_is_tty() -> bool:
    return sys.stdout.isatty()


def iso(ts: float | None) -> str | None:
    """A Unix time as ISO-8601 UTC with a Z (seconds precision), None stays None."""
    if ts is None:
        return None
    moment = dt.datetime.fromtimestamp(ts, dt.timezone.utc)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def print_json(doc: Mapping[str, Any]) -> None:
    """The one JSON document of a command, on stdout."""
    sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False, default=str) + "\n")


def say_empty(message: str) -> None:
    """'Nothing to show': on stdout for a person, on stderr in a pipe (no fake row)."""
    note(message)


def note(message: str) -> None:
    """A sentence for a person next to the rows (a count, a next step): on stdout on a
    terminal, on stderr in a pipe, so that piped stdout holds nothing but rows."""
    print(message, file=sys.stdout if stdout_is_tty() else sys.stderr)


def print_tables(tables: Iterable[Table], *, tty: bool | None = None) -> None:
    """Print tables: Rich on a terminal, tab-separated rows (tables split by a blank line)
    otherwise."""
    tables = [t for t in tables if t.rows]
    if tty if tty is not None else stdout_is_tty():
        _print_rich(tables)
        return
    lines: list[str] = []
    for i, table in enumerate(tables):
        if i:
            lines.append("")
        lines.extend("\t".join(_plain(_text(c)) for c in row) for row in table.rows)
    if lines:
        sys.stdout.write("\n".join(lines) + "\n")


def print_table(table: Table, *, tty: bool | None = None) -> None:
    print_tables([table], tty=tty)


def _text(cell: str | Cell) -> str:
    return cell.text if isinstance(cell, Cell) else cell


def _plain(text: str) -> str:
    # A tab or newline inside a value (a stranger's display name) would split the row.
    return text.replace("\t", " ").replace("\r", " ").replace("\n", " ")


def _print_rich(tables: Sequence[Table]) -> None:
    from rich.console import Console
    from rich.table import Table as RichTable
    from rich.text import Text

    out = Console(highlight=False)
    for table in tables:
        rich = RichTable(title=table.title)
        for header in table.headers:
            rich.add_column(header, overflow="fold")
        for row in table.rows:
            # Text, not markup: values such as display names come from strangers.
            rich.add_row(*(Text(c.text, style=c.style) if isinstance(c, Cell) else Text(c)
                           for c in row))
        out.print(rich)
