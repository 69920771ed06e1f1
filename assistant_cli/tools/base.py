"""The tool type plugins and built-ins implement: a typed async function, schema derived.

A plugin adds tools through the entry-point group `assistant_cli.tools`; the entry point
names a `Tool` (or a list of them) made with the `tool` decorator, which plugins import
from the public API, `assistant_cli.plugin`:

    from assistant_cli.plugin import tool

    @tool(name="weather.today")
    async def today(city: str, metric: bool = True) -> str:
        \"\"\"Today's weather for a city.

        Args:
            city: the city's name, e.g. "Lisbon".
            metric: degrees Celsius (true) or Fahrenheit (false).
        \"\"\"
        ...

The JSON schema the model sees comes from the signature (str, int, float, bool, lists,
`Literal[...]`, optional values) and the docstring (first paragraph: the description;
`Args:` lines: one description per parameter). Whatever the function returns is turned
into text for the model (strings as they are, anything else as JSON).
"""

from __future__ import annotations

import contextvars
import inspect
import json
import re
import types
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Union

from assistant_cli.domain.tools import ToolSpec
from assistant_cli.plugins.versions import API_VERSION

ToolFn = Callable[..., Awaitable[Any]]
Source = Literal["mcp", "plugin", "built-in"]

_SCALARS: dict[Any, str] = {str: "string", int: "integer", float: "number", bool: "boolean"}
_ARG_LINE = re.compile(r"^\s{1,8}(\w+)\s*(?:\([^)]*\))?:\s*(.*)$")


@dataclass(frozen=True)
class Caller:
    """Who a tool runs for: a tool may read it with `current_caller()` (e.g. to keep data
    per sender).

    Attributes:
        platform: the platform's name (``telegram``, ``whatsapp``, ``console`` ...).
        sender_id: the sender's id on that platform.
        chat_id: the chat the message that led to the call came from.
    """

    platform: str
    sender_id: str
    chat_id: str

    @property
    def sender(self) -> str:
        """The sender across platforms, ``<platform>:<sender_id>`` (a good key for data)."""
        return f"{self.platform}:{self.sender_id}"


_caller: contextvars.ContextVar[Caller | None] = contextvars.ContextVar("tool_caller",
                                                                         default=None)


def current_caller() -> Caller:
    """The sender the running tool call is for.

    Call it inside a tool's function; the answer differs per call, even when several
    conversations use the tool at once.

    Raises:
        RuntimeError: when called outside a tool call.
    """
    caller = _caller.get()
    if caller is None:
        raise RuntimeError("current_caller() is only available while a tool runs")
    return caller


def set_caller(caller: Caller | None) -> contextvars.Token[Caller | None]:
    """Used by the executor around one call; undo with `reset_caller(token)`."""
    return _caller.set(caller)


def reset_caller(token: contextvars.Token[Caller | None]) -> None:
    _caller.reset(token)


@dataclass(frozen=True)
class Tool:
    """A callable tool: its public name, where it comes from, its schema, and
    `run(arguments) -> text`. Make one with the `tool` decorator rather than by hand.

    Attributes:
        name: the name the model and `tools.policy` use, ``group.action`` (e.g.
            ``dice.roll``); unique among all tools.
        description: what the tool does, for the model (the docstring's first paragraph).
        parameters: the JSON schema (an object) of the arguments.
        run: an async function of the arguments (already checked against the schema)
            returning the text the model reads.
        source: ``plugin``, ``mcp`` or ``built-in``; shown by ``assistant-cli tools list``.
        api_version: the plugin `API_VERSION` the tool was written for; a tool plugin built
            for another major version (or a newer minor one) is not loaded.
    """

    name: str
    description: str
    parameters: dict[str, Any]
    run: Callable[[dict[str, Any]], Awaitable[str]] = field(compare=False)
    source: Source = "plugin"
    api_version: str = API_VERSION

    @property
    def spec(self) -> ToolSpec:
        """What a model is shown of the tool: name, description, parameters."""
        return ToolSpec(self.name, self.description, self.parameters)


def tool(name: str | None = None, *, description: str | None = None,
         source: Source = "plugin", api_version: str = API_VERSION
         ) -> Callable[[ToolFn], Tool]:
    """Make a `Tool` of a typed async function.

    The JSON schema comes from the signature (str, int, float, bool, lists, `Literal[...]`,
    optional values) and the Google-style docstring: its first paragraph describes the
    tool, its `Args:` lines the parameters. The function's return value reaches the model
    as text (a string as it is, anything else as JSON).

    Example:
        ```python
        from assistant_cli.plugin import tool

        @tool(name="dice.roll")
        async def roll(sides: int = 6) -> int:
            \"\"\"Roll one die.

            Args:
                sides: how many sides the die has.
            \"\"\"
            return random.randint(1, sides)
        ```

    Args:
        name: the tool's name; defaults to ``<last part of the module>.<function name>``.
        description: overrides the docstring's first paragraph.
        source: where the tool comes from; plugins keep the default.
        api_version: the plugin `API_VERSION` the tool was written for (pass
            ``assistant_cli.plugin.API_VERSION`` when you write it).

    Raises:
        TypeError: when the function is not ``async def``.
    """

    def wrap(fn: ToolFn) -> Tool:
        if not inspect.iscoroutinefunction(fn):
            raise TypeError(f"tool {fn.__qualname__} must be an `async def` function")
        summary, arg_docs = _parse_docstring(inspect.getdoc(fn) or "")
        schema = schema_of(fn, arg_docs)
        tool_name = name or f"{fn.__module__.rsplit('.', 1)[-1]}.{fn.__name__}"

        async def run(arguments: dict[str, Any]) -> str:
            return as_text(await fn(**arguments))

        return Tool(tool_name, description or summary, schema, run, source, api_version)

    return wrap


def as_text(value: Any) -> str:
    """A tool's return value as the text a model reads."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def schema_of(fn: ToolFn, arg_docs: dict[str, str] | None = None) -> dict[str, Any]:
    """The JSON schema (an object) of a function's keyword parameters."""
    hints = typing.get_type_hints(fn)
    props: dict[str, Any] = {}
    required: list[str] = []
    for param in inspect.signature(fn).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        prop = _type_schema(hints.get(param.name, Any))
        if arg_docs and param.name in arg_docs:
            prop["description"] = arg_docs[param.name]
        if param.default is inspect.Parameter.empty:
            required.append(param.name)
        elif param.default is not None:
            prop["default"] = param.default
        props[param.name] = prop
    schema: dict[str, Any] = {"type": "object", "properties": props,
                              "additionalProperties": False}
    if required:
        schema["required"] = required
    return schema


def _type_schema(hint: Any) -> dict[str, Any]:
    if hint in _SCALARS:
        return {"type": _SCALARS[hint]}
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is Literal:
        return {"enum": list(args)}
    if origin in (Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1:
            return _type_schema(rest[0])
        return {"anyOf": [_type_schema(a) for a in rest]}
    if origin in (list, tuple, set, frozenset) or hint in (list, tuple):
        return {"type": "array", "items": _type_schema(args[0]) if args else {}}
    if origin is dict or hint is dict:
        return {"type": "object"}
    return {}


def _parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """(first paragraph, {parameter: description}) of a Google-style docstring."""
    summary = " ".join(doc.split("\n\n", 1)[0].split())
    args: dict[str, str] = {}
    in_args = False
    last: str | None = None
    for line in doc.splitlines():
        if line.strip() in ("Args:", "Arguments:", "Parameters:"):
            in_args = True
        elif in_args and line.strip() and not line[0].isspace():
            in_args = False  # the next section (Returns:, Raises:, ...)
        elif in_args and (match := _ARG_LINE.match(line)):
            last = match.group(1)
            args[last] = match.group(2).strip()
        elif in_args and last and line.strip():
            args[last] += " " + line.strip()  # a description that goes on
    return summary, args
