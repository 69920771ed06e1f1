"""Loading handler and locale plugins for `serve`: config order, API versions, settings.

A plugin that fails to import, is built for another API version or has invalid settings
is reported with its package name and the reason; `serve` goes on without it unless it is
listed in `plugins.required`.
"""

from __future__ import annotations

import difflib
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from assistant_cli.config.models import PluginsConfig
from assistant_cli.errors import AssistantError, PluginError
from assistant_cli.i18n import LOCALE_DIR
from assistant_cli.plugins.api import Handler, Locale
from assistant_cli.plugins.registry import HANDLERS, LOCALES, available, package_of
from assistant_cli.plugins.versions import check_api_version

log = logging.getLogger("assistant_cli.plugins")

# Validates plugins.settings.<name> against a model, raising ConfigError with file:line.
SettingsValidator = Callable[[type[BaseModel], Any, str], BaseModel]


@dataclass(frozen=True)
class LoadedHandler:
    """A handler instance ready for the pipeline."""

    name: str
    package: str
    handler: Any  # an assistant_cli.plugin.Handler
    timeout: float


def load_handlers(config: PluginsConfig, validate: SettingsValidator) -> list[LoadedHandler]:
    """Instantiate the enabled handlers in the order of `plugins.enabled`."""
    found = available(HANDLERS)
    loaded: list[LoadedHandler] = []
    for name in config.enabled:
        if name in config.disabled:
            continue
        ep = found.get(name)
        try:
            if ep is None:
                close = difflib.get_close_matches(name, list(found), n=1)
                raise PluginError(
                    f"plugins.enabled: no handler plugin named {name!r} is installed "
                    f"(installed: {', '.join(sorted(found)) or 'none'})",
                    hint=(f"did you mean '{close[0]}'? " if close else "") + "install it "
                    f"(`assistant-cli plugins install assistant-cli-{name}`) or remove it "
                    "from plugins.enabled")
            loaded.append(_instantiate(name, ep, config, validate))
        except AssistantError as exc:
            _skip_or_raise(name, exc, config)
    return loaded


def _instantiate(name: str, ep: metadata.EntryPoint, config: PluginsConfig,
                 validate: SettingsValidator) -> LoadedHandler:
    package = package_of(ep)
    cls = import_target(ep, package)
    if not (isinstance(cls, type) and issubclass(cls, Handler)):
        raise PluginError(f"plugin {package}: entry point {name!r} ({ep.value}) is not a "
                          "subclass of assistant_cli.plugin.Handler",
                          hint=f"report it to the author of {package}")
    check_api_version(package, cls.api_version)
    raw = config.settings.get(name, {})
    settings = validate(cls.Settings, raw, name) if cls.Settings is not None else None
    if cls.Settings is None and raw:
        raise PluginError(f"plugins.settings.{name}: plugin {package} takes no settings",
                          hint=f"remove plugins.settings.{name}")
    try:
        handler = cls(settings)
    except Exception as exc:
        raise PluginError(f"plugin {package} failed to start: {type(exc).__name__}: {exc}",
                          hint=f"check plugins.settings.{name}, or upgrade {package}") from None
    return LoadedHandler(name, package, handler, float(cls.timeout))


def import_target(ep: metadata.EntryPoint, package: str) -> Any:
    """What an entry point names; a failed import becomes a PluginError naming the package."""
    try:
        return ep.load()
    except Exception as exc:  # a broken plugin is reported, not a traceback
        raise PluginError(f"plugin {package} failed to import ({ep.value}): "
                          f"{type(exc).__name__}: {exc}",
                          hint=f"reinstall or upgrade it: pip install -U {package}") from None


def _skip_or_raise(name: str, exc: AssistantError, config: PluginsConfig) -> None:
    if name in config.required:
        raise exc
    log.error("plugin %s skipped: %s", name, exc, extra={
        "event": "plugin.failed", "fields": {"plugin": name, "error": exc.message}})
    print(f"warning: plugin {name} skipped: {exc}", file=sys.stderr, flush=True)


def load_locales(config: PluginsConfig) -> list[Path]:
    """Catalog directories of every installed locale plugin not disabled."""
    dirs: list[Path] = []
    for name, ep in sorted(available(LOCALES).items()):
        if name in config.disabled:
            continue
        package = package_of(ep)
        try:
            target = import_target(ep, package)
            if not isinstance(target, Locale):
                raise PluginError(f"plugin {package}: entry point {name!r} is not an "
                                  "assistant_cli.plugin.Locale",
                                  hint=f"report it to the author of {package}")
            check_api_version(package, target.api_version)
            if target.directory != LOCALE_DIR and target.directory not in dirs:
                dirs.append(target.directory)
        except AssistantError as exc:
            _skip_or_raise(name, exc, config)
    return dirs
