"""Tools from installed packages: the entry-point group `assistant_cli.tools`.

    [project.entry-points."assistant_cli.tools"]
    weather = "my_package.tools:today"        # a Tool, or a list of Tools

A plugin that fails to load is reported (in `tools list` and the log), never fatal.
"""

from __future__ import annotations

import logging
from importlib import metadata

from assistant_cli.tools.base import Tool
from assistant_cli.tools.registry import ToolRegistry

GROUP = "assistant_cli.tools"
log = logging.getLogger("assistant_cli.tools")


def load_plugin_tools(registry: ToolRegistry) -> None:
    """Add every tool that installed packages register; failures go to registry.failures."""
    for ep in metadata.entry_points(group=GROUP):
        try:
            value = ep.load()
            found = value if isinstance(value, (list, tuple)) else [value]
            tools = [t for t in found if isinstance(t, Tool)]
            if len(tools) != len(found) or not tools:
                raise TypeError("expected a Tool (made with @tool) or a list of them")
            for item in tools:
                registry.add(item)
        except Exception as exc:  # one broken plugin must not stop the others
            registry.failures[f"plugin {ep.name}"] = f"{ep.value}: {type(exc).__name__}: {exc}"
            log.warning("tool plugin %s failed to load: %s", ep.name, exc,
                        extra={"event": "tools.plugin_failed", "fields": {"plugin": ep.name}})
