"""Every installed plugin of every kind, as `plugins list` shows it (built-ins included)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from importlib import metadata
from typing import Any

from assistant_cli.config.models import PluginsConfig
from assistant_cli.errors import AssistantError
from assistant_cli.plugins.registry import (
    CHANNELS,
    HANDLERS,
    LOCALES,
    PROVIDERS,
    available,
    package_of,
)
from assistant_cli.plugins.versions import API_VERSION, check_api_version

TOOLS = "assistant_cli.tools"  # owned by assistant_cli/tools/; listed here all the same
GROUPS = {"handler": HANDLERS, "tool": TOOLS, "provider": PROVIDERS, "channel": CHANNELS,
          "locale": LOCALES}


@dataclass(frozen=True)
class PluginRow:
    """One plugin as `plugins list` shows it."""

    kind: str
    name: str
    package: str
    version: str
    api_version: str
    status: str  # loaded, failed
    enabled: bool
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def inspect(kind: str, name: str, ep: metadata.EntryPoint, config: PluginsConfig) -> PluginRow:
    """Import one plugin and check its API version, without starting it."""
    package = package_of(ep)
    dist = getattr(ep, "dist", None)
    version = str(dist.version) if dist is not None else "?"
    enabled = name not in config.disabled and (kind != "handler" or name in config.enabled)
    try:
        target = ep.load()
    except Exception as exc:  # shown as a row, not a traceback
        return PluginRow(kind, name, package, version, "?", "failed", enabled,
                         f"import failed: {type(exc).__name__}: {exc}")
    # A tool plugin may name a list of tools, each declaring its version.
    items = target if isinstance(target, (list, tuple)) else [target]
    declared = [str(getattr(t, "api_version", API_VERSION)) for t in items] or [API_VERSION]
    for api in dict.fromkeys(declared):
        try:
            check_api_version(package, api)
        except AssistantError as exc:
            return PluginRow(kind, name, package, version, api, "failed", enabled,
                             f"{exc.message}; fix: {exc.hint}")
    return PluginRow(kind, name, package, version, declared[0], "loaded", enabled)


def all_plugins(config: PluginsConfig, kinds: list[str] | None = None) -> list[PluginRow]:
    """Rows for every entry point of the plugin groups, by kind then name."""
    rows = []
    for kind, group in GROUPS.items():
        if kinds and kind not in kinds:
            continue
        for name, ep in sorted(available(group).items()):
            rows.append(inspect(kind, name, ep, config))
    return rows
