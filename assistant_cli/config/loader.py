"""Reading config.yaml into a Config, with errors that name file, line and key path."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from assistant_cli.config.masking import masked
from assistant_cli.config.models import SECRET_KEYS, Config
from assistant_cli.errors import ConfigError
from assistant_cli.paths import atomic_write
from assistant_cli.plugins.registry import PROVIDERS, available

Loc = tuple[str | int, ...]


@dataclass
class Document:
    """Plain data parsed from YAML plus the 1-based line of every key path."""

    data: Any
    lines: dict[Loc, int] = field(default_factory=dict)

    def line_of(self, loc: Loc) -> int | None:
        # Walk up the path: a missing key is reported at its parent's line.
        for end in range(len(loc), -1, -1):
            if loc[:end] in self.lines:
                return self.lines[loc[:end]]
        return None


# Aliases beyond this are refused: a few (a shared provider block) are handy, while a
# 300-byte "billion laughs" of nested aliases would expand to gigabytes.
MAX_ALIASES = 10
MERGE_TAG = "tag:yaml.org,2002:merge"


def _scalar(node: yaml.Node) -> Any:
    # Built directly from the node: an empty value (`tls_cert:`) is null, as YAML says.
    return yaml.constructor.SafeConstructor().construct_object(node)


def _to_python(node: yaml.Node, loc: Loc, lines: dict[Loc, int]) -> Any:
    lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == MERGE_TAG:  # `<<: *base`: the base's keys, unless set here
                bases = value_node.value if isinstance(value_node, yaml.SequenceNode) else [
                    value_node]
                for base in bases:
                    merged = _to_python(base, loc, lines)
                    if not isinstance(merged, dict):
                        raise ConfigError(f"line {key_node.start_mark.line + 1}: `<<` "
                                          "merges only mappings", hint="merge a mapping")
                    out = {**merged, **out}
                continue
            key = str(_scalar(key_node))
            lines[loc + (key,)] = key_node.start_mark.line + 1
            out[key] = _to_python(value_node, loc + (key,), lines)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(item, loc + (i,), lines) for i, item in enumerate(node.value)]
    return _scalar(node)


def _check_aliases(text: str, filename: str) -> None:
    """Refuse more than MAX_ALIASES aliases, naming the line of the first one too many."""
    count = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent):
            count += 1
            if count > MAX_ALIASES:
                line = f":{event.start_mark.line + 1}" if event.start_mark else ""
                raise ConfigError(
                    f"{filename}{line}: more than {MAX_ALIASES} YAML "
                    "aliases (*name); refused, as nested aliases can expand without bound",
                    hint="write the repeated values out instead of using anchors (&name) "
                    "and aliases")


def parse_document(text: str, filename: str) -> Document:
    """Parse YAML text, keeping line numbers; malformed YAML raises ConfigError."""
    try:
        _check_aliases(text, filename)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark else ""
        raise ConfigError(
            f"{filename}{line}: not valid YAML: {exc.problem or exc}",
            hint="fix the indentation or quoting on that line (`assistant-cli config validate`)",
        ) from None
    if node is None:
        return Document({})
    lines: dict[Loc, int] = {}
    return Document(_to_python(node, (), lines), lines)


def _fields_at(loc: Loc, root: type[BaseModel] = Config) -> list[str]:
    """Allowed keys of the model found at `loc`, for did-you-mean suggestions."""
    model: type[BaseModel] | None = root
    parts = list(loc)
    while parts and model is not None:
        info = model.model_fields.get(str(parts.pop(0)))
        if info is None:
            return []
        ann = info.annotation
        args = getattr(ann, "__args__", (ann,))
        if getattr(ann, "__origin__", None) is dict:
            # dict[str, Model]: the next part is a user-chosen name, not a field.
            if not parts:
                return []
            parts.pop(0)
            args = args[1:]
        model = next(
            (a for a in args if isinstance(a, type) and issubclass(a, BaseModel)), None
        )
    return list(model.model_fields) if model is not None else []


def _describe(err: dict[str, Any], loc: Loc, root: type[BaseModel] = Config) -> str:
    kind = err["type"]
    got = masked(err.get("input"))  # an error message never echoes a secret
    if kind == "extra_forbidden":
        parent_fields = _fields_at(loc[:-1], root)
        close = difflib.get_close_matches(str(loc[-1]), parent_fields, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        allowed = ", ".join(parent_fields)
        return f"unknown key{hint} (allowed here: {allowed})"
    if kind == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        return f"expected {expected}, got {got!r}"
    if kind == "missing":
        return "required key is missing"
    msg = str(err["msg"])
    msg = msg[0].lower() + msg[1:] if msg else msg
    if got is not None and not isinstance(got, (dict, list)):
        return f"{msg}, got {got!r}"
    return msg


def _without_consequences(errors: list[Any]) -> list[Any]:
    """Drop "required key is missing" when a misspelt sibling key is the likely cause.

    `modle: x` reports both the unknown `modle` and the missing `model`; the typo is the
    one thing to fix, so only it is shown (with its did-you-mean).
    """
    typos: set[Loc] = set()
    for err in errors:
        loc = tuple(err["loc"])
        if err["type"] == "extra_forbidden" and loc:
            for match in difflib.get_close_matches(str(loc[-1]), _fields_at(loc[:-1]), n=1):
                typos.add((*loc[:-1], match))
    return [e for e in errors if not (e["type"] == "missing" and tuple(e["loc"]) in typos)]


def validate_document(doc: Document, filename: str) -> Config:
    """Validate parsed data; the first problems become one ConfigError."""
    if not isinstance(doc.data, dict):
        raise ConfigError(f"{filename}:1: expected a mapping of settings at the top level, "
                          f"got {type(doc.data).__name__}",
                          hint="start from `assistant-cli config init` or config.example.yaml")
    try:
        config = Config.model_validate(doc.data)
    except ValidationError as exc:
        raise ConfigError(
            "\n".join(_problems(exc, doc, filename)),
            hint="edit the file, then run `assistant-cli config validate`") from None
    _check_references(config, doc, filename)
    return config


def _problems(exc: ValidationError, doc: Document, filename: str, prefix: Loc = (),
              root: type[BaseModel] = Config) -> list[str]:
    """`file:line: key.path: what is wrong` for the first few errors; `prefix` is where
    the validated section sits in the file (for a plugin's settings)."""
    problems = []
    errors = exc.errors() if prefix else _without_consequences(exc.errors())
    for err in errors[:5]:
        loc: Loc = tuple(err["loc"])
        line = doc.line_of((*prefix, *loc))
        where = f"{filename}:{line}" if line else filename
        path = ".".join(str(p) for p in (*prefix, *loc)) or "(top level)"
        problems.append(f"{where}: {path}: {_describe(dict(err), loc, root)}")
    return problems


def validate_section(model: type[BaseModel], data: Any, prefix: Loc, doc: Document,
                     filename: str) -> BaseModel:
    """Validate one section (e.g. `plugins.settings.remind`) against a model that is not
    part of Config, with the same `file:line: key` errors."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(
            "\n".join(_problems(exc, doc, filename, prefix, model)),
            hint="edit the file, then run `assistant-cli config validate`") from None


def _check_references(config: Config, doc: Document, filename: str) -> None:
    names = list(config.providers)
    refs: list[tuple[Loc, str]] = []
    if config.assistant.provider:
        refs.append((("assistant", "provider"), config.assistant.provider))
    refs += [(("assistant", "fallbacks", i), n) for i, n in enumerate(config.assistant.fallbacks)]
    _check_kinds(config, doc, filename)
    for loc, name in refs:
        if name not in config.providers:
            close = difflib.get_close_matches(name, names, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            known = ", ".join(names) or "none defined"
            raise ConfigError(
                f"{filename}:{doc.line_of(loc)}: {'.'.join(map(str, loc))}: no provider named "
                f"{name!r}{hint} (providers: {known})",
                hint="add it under `providers:` or fix the name",
            )


def _check_kinds(config: Config, doc: Document, filename: str) -> None:
    """A provider kind nobody registered fails here, not on every message later."""
    kinds = sorted(available(PROVIDERS))
    for name, provider in config.providers.items():
        if provider.kind in kinds:
            continue
        loc: Loc = ("providers", name, "kind")
        close = difflib.get_close_matches(provider.kind, kinds, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise ConfigError(
            f"{filename}:{doc.line_of(loc)}: {'.'.join(map(str, loc))}: unknown provider kind "
            f"{provider.kind!r}{hint} (known: {', '.join(kinds)})",
            hint="fix the kind, or install the plugin package that provides it",
        )


def literal_secret_warnings(doc: Document, filename: str) -> list[str]:
    """Warnings for secret keys whose value is a literal instead of keyring:/env: reference."""
    warnings: list[str] = []

    def walk(value: Any, loc: Loc) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                if k in SECRET_KEYS and isinstance(v, str) and v and not is_reference(v):
                    warnings.append(
                        f"{filename}:{doc.line_of((*loc, k))}: {'.'.join(map(str, (*loc, k)))}:"
                        f" literal secret in the config file; store it with `assistant-cli "
                        f"secrets set NAME` and write `keyring:NAME` instead"
                    )
                walk(v, (*loc, k))
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, (*loc, i))

    walk(doc.data, ())
    return warnings


def is_reference(value: str) -> bool:
    return value.startswith(("keyring:", "env:"))


def read_document(path: Path) -> Document:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"no config file at {path}",
            hint="run `assistant-cli config init` (or `assistant-cli serve` in a terminal "
            "for a guided setup), or pass --config PATH",
        ) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"cannot read {path}: not UTF-8 text ({exc.reason} at byte "
                          f"{exc.start})", hint="save the file as UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}",
                          hint="point --config at a readable YAML file") from None
    return parse_document(text, path.name)


def load_config(path: Path) -> Config:
    """Read, parse and validate config.yaml at `path`."""
    return validate_document(read_document(path), path.name)


def atomic_write_text(path: Path, text: str, mode: int = 0o600) -> None:
    """Write a file so that readers see the old or the new content, never half of it."""
    try:
        atomic_write(path, text.encode("utf-8"), mode)
    except OSError as exc:
        raise ConfigError(
            f"cannot write {path}: {exc.strerror or exc}",
            hint=f"make {path.parent} a writable directory, or pass --config PATH "
            "(or set ASSISTANT_CLI_HOME) to write somewhere else",
        ) from None
