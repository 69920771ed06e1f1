"""Tools from installed packages: the entry-point group `assistant_cli.tools`.

    [project.entry-points."assistant_cli.tools"]
    weather = "my_package.tools:TOOLS"        # a Tool, or a list of Tools

Like handler and locale plugins: a name in `plugins.disabled` is not loaded; a plugin built
for another plugin API version is refused with the fix. A plugin that fails to load is
reported (in `tools list`, `plugins list` and the log) and skipped, unless it is listed in
`plugins.required`: then `serve` does not start.
"""

from __future__ import annotations

import logging
from importlib import metadata
from typing import Any

from assistant_cli.config.models import PluginsConfig
from assistant_cli.errors import PluginError
from assistant_cli.plugins.loading import import_target
from assistant_cli.plugins.registry import package_of
from assistant_cli.plugins.versions import check_api_version
from assistant_cli.tools.base import Tool
from assistant_cli.tools.registry import ToolRegistry

GROUP = "assistant_cli.tools"
log = logging.getLogger("assistant_cli.tools")


def tools_of(value: Any, package: str) -> list[Tool]:
    """The tools an entry point names, each checked against our plugin API version."""
    found = list(value) if isinstance(value, (list, tuple)) else [value]
    tools = [t for t in found if isinstance(t, Tool)]
    if len(tools) != len(found) or not tools:
        raise PluginError(f"plugin {package}: the entry point names something that is not "
                          "a Tool (made with @tool from assistant_cli.plugin) or a list of them",
                          hint=f"report it to the author of {package}")
    for item in tools:
        check_api_version(package, item.api_version)
    return tools


def load_plugin_tools(registry: ToolRegistry, config: PluginsConfig | None = None) -> None:
    """Add every tool that installed packages register and config does not disable;
    failures go to registry.failures (a required plugin's failure is raised)."""
    config = config or PluginsConfig()
    for ep in metadata.entry_points(group=GROUP):
        if ep.name in config.disabled:
            continue
        package = package_of(ep)
        try:
            for item in tools_of(import_target(ep, package), package):
                registry.add(item)
        except (PluginError, ValueError) as exc:  # one broken plugin must not stop the others
            error = exc if isinstance(exc, PluginError) else PluginError(
                f"plugin {package}: {exc}", hint=f"report it to the author of {package}")
            if ep.name in config.required:
                raise error from None
            registry.failures[f"plugin {ep.name}"] = f"{error.message}; fix: {error.hint}"
            log.warning("tool plugin %s failed to load: %s", ep.name, error.message,
                        extra={"event": "tools.plugin_failed", "fields": {"plugin": ep.name}})

