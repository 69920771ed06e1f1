"""The plugins in examples/ are installed (the README's test command does it) and load."""

from __future__ import annotations

from assistant_cli.config.models import PluginsConfig
from assistant_cli.plugins import registry
from assistant_cli.plugins.catalog import all_plugins

FIX = "install them: .venv/bin/pip install -e examples/remind -e examples/locale-de"


def test_the_example_plugins_are_installed_and_load() -> None:
    registry.available.cache_clear()
    rows = {(r.kind, r.name): r for r in all_plugins(PluginsConfig(), ["handler", "locale"])}
    assert ("handler", "remind") in rows and ("locale", "de") in rows, FIX
    assert rows[("handler", "remind")].package == "assistant-cli-remind"
    assert rows[("locale", "de")].package == "assistant-cli-de"
    assert {rows[k].status for k in (("handler", "remind"), ("locale", "de"))} == {"loaded"}
