"""`plugins new`: a complete, installable plugin package whose own test passes as written.

Templates live in `templates/<kind>.txt`: files separated by `=== path ===` lines, with
`{name}`, `{module}`, `{package}`, `{cls}`, `{api}`, `{group}` filled in.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

from assistant_cli.errors import UsageError
from assistant_cli.plugins.versions import API_VERSION

KINDS = ("handler", "tool", "provider", "channel", "locale")
GROUPS = {"handler": "assistant_cli.handlers", "tool": "assistant_cli.tools",
          "provider": "assistant_cli.providers", "channel": "assistant_cli.channels",
          "locale": "assistant_cli.locales"}
NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,39}$", re.IGNORECASE)
TEMPLATES = Path(__file__).parent / "templates"
KEYWORD = "assistant-cli-plugin"  # what `plugins search` looks for, with the name prefix


def package_name(name: str) -> str:
    """The PyPI name of a plugin: assistant-cli-<name>."""
    return f"assistant-cli-{name.lower().replace('_', '-')}"


def render(name: str, kind: str) -> dict[str, str]:
    """Relative path → file text for a new plugin."""
    if kind not in KINDS:
        raise UsageError(f"--kind {kind!r} is not a plugin kind",
                         hint=f"use one of: {', '.join(KINDS)}")
    if not NAME_RE.match(name):
        raise UsageError(f"plugin name {name!r} is not usable as a package name",
                         hint="use letters, digits, '-' or '_', starting with a letter, "
                              "e.g. remind")
    ident = name.lower().replace("-", "_")
    module = "assistant_cli_" + ident
    values = {"name": name, "module": module, "ident": ident, "package": package_name(name),
              "cls": "".join(p.capitalize() for p in re.split(r"[-_]", name)),
              "api": API_VERSION, "group": GROUPS[kind], "keyword": KEYWORD}
    text = (TEMPLATES / f"{kind}.txt").read_text(encoding="utf-8")
    files: dict[str, str] = {}
    parts = re.split(r"^=== (.+?) ===\n", text, flags=re.MULTILINE)[1:]
    for path, body in zip(parts[::2], parts[1::2], strict=False):
        files[_fill(path, values)] = _fill(body, values)
    return files


def _fill(text: str, values: dict[str, str]) -> str:
    # Not str.format: templates contain Python braces of their own.
    return re.sub(r"\{(name|module|ident|package|cls|api|group|keyword)\}",
                  lambda m: values[m.group(1)], text)


def write(name: str, kind: str, parent: Path) -> Path:
    """Write the package into `parent/assistant-cli-<name>`; refuse to overwrite."""
    target = parent / package_name(name)
    if target.exists():
        raise UsageError(f"{target} already exists",
                         hint="pick another name, or remove or move that folder first")
    files = render(name, kind)
    for rel, body in files.items():
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body, encoding="utf-8")
    if kind == "locale":
        lang = name.replace("-", "_")
        out = target / files_module(files) / "locales" / lang / "LC_MESSAGES"
        out.mkdir(parents=True, exist_ok=True)
        (out / "assistant_cli.mo").write_bytes(mo_bytes({}))
    return target


def files_module(files: dict[str, str]) -> str:
    return next(p.split("/")[0] for p in files if p.endswith("__init__.py"))


def mo_bytes(messages: dict[str, str]) -> bytes:
    """A GNU .mo catalog of `messages` (an empty one is a valid, untranslated catalog)."""
    entries = sorted({"": "Content-Type: text/plain; charset=UTF-8\n", **messages}.items())
    ids = [k.encode() for k, _ in entries]
    strs = [v.encode() for _, v in entries]
    start = 7 * 4 + 16 * len(entries)
    offsets, data = [], b""
    for item in (*ids, *strs):
        offsets.append((len(item), start + len(data)))
        data += item + b"\0"
    header = struct.pack("<7I", 0x950412DE, 0, len(entries), 28, 28 + 8 * len(entries), 0,
                         start)
    table = b"".join(struct.pack("<2I", n, o) for n, o in offsets)
    return header + table + data
