"""Finding channels and providers by kind, through Python entry points.

Built-ins register exactly as third-party packages do, in their pyproject.toml:

    [project.entry-points."assistant_cli.providers"]
    mykind = "my_package.module:MyProvider"

    [project.entry-points."assistant_cli.channels"]
    myplatform = "my_package.module:MyChannel"

Targets are imported only when a kind is used, so an unused plugin costs nothing.
Handlers and locales (`assistant_cli.handlers`, `assistant_cli.locales`) are loaded by
`plugins/loading.py`; tools (`assistant_cli.tools`) by `assistant_cli/tools/`.
"""

from __future__ import annotations

import difflib
from functools import cache
from importlib import metadata
from typing import Any

from assistant_cli.errors import ConfigError
from assistant_cli.plugins.versions import check_api_version

PROVIDERS = "assistant_cli.providers"
CHANNELS = "assistant_cli.channels"
HANDLERS = "assistant_cli.handlers"
LOCALES = "assistant_cli.locales"


@cache
def available(group: str) -> dict[str, metadata.EntryPoint]:
    """Every registered kind in a group, by name."""
    return {ep.name: ep for ep in metadata.entry_points(group=group)}


def load(group: str, kind: str, *, key: str) -> Any:
    """Import the class registered as `kind`; `key` is the config path, for errors."""
    kinds = available(group)
    ep = kinds.get(kind)
    if ep is None:
        close = difflib.get_close_matches(kind, list(kinds), n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise ConfigError(
            f"{key}: unknown kind {kind!r} (known: {', '.join(sorted(kinds)) or 'none'})",
            hint=f"{hint}install the plugin that provides it, or pick a known kind",
        )
    try:
        cls = ep.load()
    except Exception as exc:  # a broken plugin must not take the whole process down silently
        raise ConfigError(
            f"{key}: the plugin for kind {kind!r} ({ep.value}) failed to load: {exc}",
            hint="reinstall or upgrade that plugin package",
        ) from None
    declared = getattr(cls, "api_version", None)  # third-party providers/channels declare it
    if declared is not None:
        check_api_version(package_of(ep), str(declared))
    return cls


def package_of(ep: metadata.EntryPoint) -> str:
    """The distribution that registered an entry point (its module's name if unknown)."""
    dist = getattr(ep, "dist", None)
    return str(dist.name) if dist is not None else ep.value.split(":")[0]
