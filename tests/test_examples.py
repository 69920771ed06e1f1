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


def test_examples_and_generated_plugins_import_only_the_public_api() -> None:
    """A plugin needs nothing but assistant_cli.plugin and assistant_cli.testing."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    sources = [*root.glob("examples/**/*.py"), *root.glob("assistant_cli/plugins/templates/*")]
    assert len(sources) >= 9
    private = {str(p.relative_to(root)): sorted(set(re.findall(
        r"(?:from|import) (assistant_cli(?:\.\w+)*)\b", p.read_text(encoding="utf-8"))) - {
        "assistant_cli.plugin", "assistant_cli.testing"}) for p in sources}
    assert {k: v for k, v in private.items() if v} == {}
