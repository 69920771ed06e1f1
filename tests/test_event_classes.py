"""Every event serve publishes is a class in domain/events.py, never a bare name.

`bus.publish("name", **data)` still runs (see domain/events.py), so code written before the
events were typed keeps working; this test then prints the class to add for each such call.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "assistant_cli"


def published_by_name() -> list[tuple[str, str, list[str]]]:
    """(where, event name, keyword names) of each `.publish("name", ...)` call."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "publish" and node.args
                    and isinstance(node.args[0], ast.Constant)
                    and isinstance(node.args[0].value, str)):
                where = f"{path.relative_to(PACKAGE.parent)}:{node.lineno}"
                found.append((where, node.args[0].value,
                              [k.arg or "**" for k in node.keywords]))
    return found


def skeleton(name: str, keywords: list[str]) -> str:
    cls = "".join(part.title() for part in name.replace("_", ".").split("."))
    body = "\n".join(f"    {k}: ...  # its type" for k in keywords)
    return (f'@dataclass(frozen=True, kw_only=True)\nclass {cls}(Event):\n    """..."""\n\n'
            f'    NAME = "{name}"\n{body}\n')


def test_no_event_is_published_by_bare_name() -> None:
    calls = published_by_name()
    advice = "\n".join(f"{where}: publish({name!r}) -> add to domain/events.py:\n"
                       f"{skeleton(name, keywords)}" for where, name, keywords in calls)
    assert not calls, ("publish an event class instead of a name (docs/ARCHITECTURE.md, "
                       "'Adding an event'):\n" + advice)
