"""Editing config.yaml in place: set or remove one key, keeping every other byte as written.

Re-dumping the whole file would lose the user's comments, ordering and quoting, so edits
splice text at the positions PyYAML reports for the nodes involved. Each edit is checked
by parsing the result: everything but the edited key must read back exactly as before,
and the edited key as intended; anything else is refused rather than written.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from assistant_cli.config.loader import (
    atomic_write_text,
    parse_document,
    read_document,
    validate_document,
)
from assistant_cli.errors import ConfigError

if TYPE_CHECKING:
    from assistant_cli.config.models import Config

Path_ = tuple[str, ...]
_MISSING = object()


class _Dumper(yaml.SafeDumper):
    """Mappings in block style; lists of plain values inline (`scopes: [a, b]`) unless
    `flow_lists` is off, and then indented under their key (`key:\\n  - a`)."""

    flow_lists = True

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _represent_dict(dumper: yaml.SafeDumper, data: dict[Any, Any]) -> yaml.Node:
    return dumper.represent_mapping("tag:yaml.org,2002:map", data, flow_style=not data)


def _represent_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    plain = all(not isinstance(v, (dict, list)) for v in data)
    flow = not data or (plain and getattr(dumper, "flow_lists", True))
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_Dumper.add_representer(dict, _represent_dict)
_Dumper.add_representer(list, _represent_list)


class _BlockListDumper(_Dumper):
    flow_lists = False


def _flow(value: Any) -> str:
    return yaml.safe_dump([value], default_flow_style=True, width=10**6).strip()[1:-1]


def _block(value: Any, indent: int, step: int, *, flow_lists: bool = True) -> str:
    text = yaml.dump(value, Dumper=_Dumper if flow_lists else _BlockListDumper,
                     sort_keys=False, indent=step, width=10**6, allow_unicode=True)
    return "".join(" " * indent + line if line.strip() else line
                   for line in text.splitlines(keepends=True))


def _is_block_value(value: Any) -> bool:
    return isinstance(value, dict) and bool(value)


class ConfigEditor:
    """Holds the text of a config file and applies edits to it."""

    def __init__(self, text: str, filename: str = "config.yaml") -> None:
        self.text = text
        self.filename = filename

    # -- reading ------------------------------------------------------------------------
    def _invalid(self, exc: yaml.YAMLError) -> ConfigError:
        return ConfigError(f"{self.filename}: not valid YAML, so it cannot be edited: {exc}",
                           hint="fix it (`assistant-cli config validate`) and retry")

    def _root(self) -> yaml.Node | None:
        try:
            return yaml.compose(self.text, Loader=yaml.SafeLoader)
        except yaml.YAMLError as exc:
            raise self._invalid(exc) from None

    def data(self) -> Any:
        """The file's content as plain data ({} for an empty file); read as `config
        validate` reads it (aliases limited, empty values null)."""
        return parse_document(self.text, self.filename).data or {}

    def _lookup(self, path: Path_) -> tuple[yaml.Node | None, yaml.Node | None, yaml.Node | None]:
        """(key node, value node, parent mapping node) for `path`; Nones where missing."""
        node = self._root()
        key_node: yaml.Node | None = None
        parent: yaml.Node | None = None
        for part in path:
            if not isinstance(node, yaml.MappingNode):
                return None, None, None
            parent = node
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode) and k.value == part:
                    key_node, node = k, v
                    break
            else:
                return None, None, parent
        return key_node, node, parent

    def _step(self) -> int:
        """The indentation step the file uses (2 unless it shows another)."""
        root = self._root()
        if isinstance(root, yaml.MappingNode):
            for _, value in root.value:
                if isinstance(value, yaml.MappingNode) and not value.flow_style and value.value:
                    col = value.value[0][0].start_mark.column
                    if col > 0:
                        return int(col)
        return 2

    def _line_start(self, index: int) -> int:
        return self.text.rfind("\n", 0, index) + 1

    def _line_end(self, index: int) -> int:
        """Index just past the newline ending the line that holds `index`."""
        end = self.text.find("\n", index)
        return len(self.text) if end < 0 else end + 1

    def _entry_end(self, key: yaml.Node, value: yaml.Node) -> int:
        """Where a `key: value` entry's text ends, comments that introduce the next entry
        (indented no deeper than the key) excluded."""
        if isinstance(value, yaml.ScalarNode) or getattr(value, "flow_style", False):
            return self._line_end(max(value.end_mark.index - 1, key.start_mark.index))
        start = self._line_start(key.start_mark.index)
        lines = self.text[start:value.end_mark.index].splitlines(keepends=True)
        col = key.start_mark.column
        while len(lines) > 1:
            stripped = lines[-1].strip()
            indent = len(lines[-1]) - len(lines[-1].lstrip())
            if not stripped or (stripped.startswith("#") and indent <= col):
                lines.pop()
            else:
                break
        end = start + sum(len(line) for line in lines)
        return self._line_end(end - 1) if not self.text[start:end].endswith("\n") else end

    # -- editing ------------------------------------------------------------------------
    def set(self, path: Path_, value: Any) -> None:
        """Insert or replace the value at `path`, creating parent mappings as needed."""
        original = self.text
        try:
            self._set(path, value)
        except BaseException:
            self.text = original
            raise

    def remove(self, path: Path_) -> bool:
        """Delete the key at `path`; False when it is not there."""
        original = self.text
        try:
            return self._remove(path)
        except BaseException:
            self.text = original
            raise

    def _set(self, path: Path_, value: Any) -> None:
        before = self.data()
        for depth in range(len(path), -1, -1):
            key, node, _ = self._lookup(path[:depth]) if depth else (None, self._root(), None)
            if depth and key is None:
                continue
            nested: Any = value
            for part in reversed(path[depth + 1:]):
                nested = {part: nested}
            if depth == len(path):
                assert key is not None and node is not None
                self._replace(key, node, value)
            elif isinstance(node, yaml.MappingNode) and not node.flow_style and node.value:
                self._append(node, path[depth], nested)
            elif depth == 0:
                self._append_root(path[0], nested)
            else:
                assert key is not None and node is not None
                merged = self._value_at(before, path[:depth])
                merged = dict(merged) if isinstance(merged, dict) else {}
                merged[path[depth]] = nested
                self._replace(key, node, merged)
            break
        self._verify(before, path, value)

    def _remove(self, path: Path_) -> bool:
        before = self.data()
        key, node, parent = self._lookup(path)
        if key is None or node is None or parent is None:
            return False
        if len(parent.value) == 1 and len(path) > 1:
            # Removing the only entry: the parent becomes an empty mapping, not null.
            pkey, pnode, _ = self._lookup(path[:-1])
            assert pkey is not None and pnode is not None
            self._replace(pkey, pnode, {})
        elif getattr(parent, "flow_style", False):
            pkey, pnode, _ = self._lookup(path[:-1])
            if pkey is None or pnode is None:
                raise self._refuse(path)
            remaining = dict(self._value_at(before, path[:-1]))
            remaining.pop(path[-1])
            self._replace(pkey, pnode, remaining)
        else:
            start = self._line_start(key.start_mark.index)
            # Comment lines right above the key, at its indent, describe it: they go too.
            while start > 0:
                prev = self._line_start(start - 1)
                line = self.text[prev:start]
                if line.strip().startswith("#") and len(line) - len(line.lstrip()) == \
                        key.start_mark.column:
                    start = prev
                else:
                    break
            self.text = self.text[:start] + self.text[self._entry_end(key, node):]
        self._verify(before, path, _MISSING)
        return True

    def _replace(self, key: yaml.Node, node: yaml.Node, value: Any) -> None:
        inline_old = isinstance(node, yaml.ScalarNode) or getattr(node, "flow_style", False)
        col = key.start_mark.column
        step = self._step()
        if inline_old and not _is_block_value(value):
            start, end = node.start_mark.index, node.end_mark.index
            new = _flow(value)
            if start == end:  # an empty (null) value: `key:` and nothing after it
                new = " " + new
            # Keep an aligned trailing comment where it was.
            pad = len(self.text[end:]) - len(self.text[end:].lstrip(" "))
            if pad and self.text[end + pad:end + pad + 1] == "#":
                keep = max(1, pad + (end - start) - len(new))
                self.text = self.text[:start] + new + " " * keep + self.text[end + pad:]
            else:
                self.text = self.text[:start] + new + self.text[end:]
            return
        if inline_old:
            start = key.end_mark.index
            end = self._line_end(node.end_mark.index - 1 if node.end_mark.index > start
                                 else start)
            self.text = (self.text[:start] + ":\n" + _block(value, col + step, step)
                         + self.text[end:])
            return
        end = self._entry_end(key, node)
        if isinstance(value, (dict, list)) and value:
            start = self._line_start(node.start_mark.index)
            indent = node.start_mark.column
            self.text = (self.text[:start] + _block(value, indent, step, flow_lists=False)
                         + self.text[end:])
        else:
            start = key.end_mark.index
            self.text = self.text[:start] + ": " + _flow(value) + "\n" + self.text[end:]

    def _append(self, mapping: yaml.MappingNode, key: str, value: Any) -> None:
        last_key, last_value = mapping.value[-1]
        at = self._entry_end(last_key, last_value)
        col = mapping.value[0][0].start_mark.column
        piece = _block({key: value}, col, self._step())
        if at > 0 and not self.text[:at].endswith("\n"):
            piece = "\n" + piece
        self.text = self.text[:at] + piece + self.text[at:]

    def _append_root(self, key: str, value: Any) -> None:
        root = self._root()
        if root is not None and not isinstance(root, yaml.MappingNode):
            raise ConfigError(f"{self.filename}: the top level is not a mapping of settings",
                              hint="fix the file (`assistant-cli config validate`)")
        if isinstance(root, yaml.MappingNode) and root.flow_style:
            raise self._refuse((key,))
        text = self.text
        if text and not text.endswith("\n"):
            text += "\n"
        self.text = text + _block({key: value}, 0, self._step())

    # -- checking -----------------------------------------------------------------------
    @staticmethod
    def _value_at(data: Any, path: Path_) -> Any:
        for part in path:
            data = data.get(part) if isinstance(data, dict) else None
        return data

    def _refuse(self, path: Path_) -> ConfigError:
        return ConfigError(
            f"{self.filename}: cannot safely edit {'.'.join(path)} in place (unusual layout)",
            hint="make the change by hand, then run `assistant-cli config validate`")

    def _verify(self, before: Any, path: Path_, value: Any) -> None:
        expected = copy.deepcopy(before) if isinstance(before, dict) else {}
        cursor = expected
        for part in path[:-1]:
            if not isinstance(cursor.get(part), dict):
                cursor[part] = {}
            cursor = cursor[part]
        if value is _MISSING:
            cursor.pop(path[-1], None)
        else:
            cursor[path[-1]] = copy.deepcopy(value)
        try:
            after = self.data()
        except ConfigError:
            after = _MISSING
        if after != expected:
            raise self._refuse(path)


def open_editor(path: Path, *, create: bool = False) -> ConfigEditor:
    """An editor over the file at `path`; with `create`, a missing file starts empty."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if not create:
            read_document(path)  # raises the usual "no config file" error with its hint
        text = "version: 1\n"
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    return ConfigEditor(text, path.name)


def save(path: Path, editor: ConfigEditor) -> Config:
    """Validate the edited text as a whole, then replace the file atomically.

    On any error the file is left exactly as it was.
    """
    config = validate_document(parse_document(editor.text, path.name), path.name)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o600
    atomic_write_text(path, editor.text, mode=mode)
    return config
