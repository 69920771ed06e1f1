"""The tools available right now, from every source, by public name (`server.tool`)."""

from __future__ import annotations

from assistant_cli.domain.tools import ToolSpec, wire_name
from assistant_cli.tools.base import Tool


class ToolRegistry:
    """Tools by name; MCP servers replace their whole set when their list changes."""

    def __init__(self) -> None:
        self._tools: dict[str, Tool] = {}
        self._wire: dict[str, str] = {}
        # server name → why it is not available (failed start, lost connection)
        self.failures: dict[str, str] = {}

    def add(self, tool: Tool) -> None:
        if "." not in tool.name:
            raise ValueError(f"tool name {tool.name!r} must look like server.tool")
        self._tools[tool.name] = tool
        self._wire[wire_name(tool.name)] = tool.name

    def replace_prefix(self, prefix: str, tools: list[Tool]) -> None:
        """Swap every tool named `prefix.*` for `tools` (an MCP server's fresh list)."""
        for name in [n for n in self._tools if n.startswith(prefix + ".")]:
            del self._tools[name]
            self._wire.pop(wire_name(name), None)
        for tool in tools:
            self.add(tool)

    def get(self, name: str) -> Tool | None:
        """A tool by its public name or the name a model API used for it."""
        return self._tools.get(name) or self._tools.get(self._wire.get(name, ""))

    def all(self) -> list[Tool]:
        return [self._tools[name] for name in sorted(self._tools)]

    def specs(self, names: list[str] | None = None) -> tuple[ToolSpec, ...]:
        tools = self.all() if names is None else [self._tools[n] for n in names
                                                  if n in self._tools]
        return tuple(t.spec for t in tools)
