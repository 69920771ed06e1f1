"""The plugins in examples/ are installed (the README's test command does it) and load."""

from __future__ import annotations

from assistant_cli.config.models import PluginsConfig
from assistant_cli.plugins import registry
from assistant_cli.plugins.catalog import all_plugins

FIX = ("install them: .venv/bin/pip install -e examples/remind -e examples/locale-de "
       "-e examples/units")


EXAMPLES = {("handler", "remind"): "assistant-cli-remind", ("locale", "de"): "assistant-cli-de",
            ("tool", "units"): "assistant-cli-units"}


def test_the_example_plugins_are_installed_and_load() -> None:
    registry.available.cache_clear()
    rows = {(r.kind, r.name): r for r in all_plugins(PluginsConfig(),
                                                    ["handler", "locale", "tool"])}
    assert set(EXAMPLES) <= set(rows), FIX
    assert {k: rows[k].package for k in EXAMPLES} == EXAMPLES
    assert {rows[k].status for k in EXAMPLES} == {"loaded"}


async def test_the_example_tool_is_offered_and_called_like_any_tool() -> None:
    """Through the entry point, the registry and the executor, as `serve` runs it."""
    from assistant_cli.domain.events import EventBus
    from assistant_cli.domain.tools import ToolCall
    from assistant_cli.tools.executor import ToolExecutor
    from assistant_cli.tools.plugins import load_plugin_tools
    from assistant_cli.tools.registry import ToolRegistry

    tools = ToolRegistry()
    load_plugin_tools(tools, PluginsConfig())
    assert tools.get("units__convert") is not None, FIX  # the name a model API uses
    done = await ToolExecutor(tools, EventBus()).run(ToolCall(
        "c1", "units__convert", '{"value": 5, "from_unit": "km", "to_unit": "m"}'))
    assert (done.outcome, done.result.content) == (
        "ok", '{"value": 5000.0, "unit": "m", "text": "5 km = 5000 m"}')
    refused = ToolRegistry()
    load_plugin_tools(refused, PluginsConfig(disabled=["units"]))
    assert refused.get("units.convert") is None


def test_examples_and_generated_plugins_import_only_the_public_api() -> None:
    """A plugin needs nothing but assistant_cli.plugin and assistant_cli.testing."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    sources = [*root.glob("examples/**/*.py"), *root.glob("assistant_cli/plugins/templates/*")]
    assert len(sources) >= 11
    private = {str(p.relative_to(root)): sorted(set(re.findall(
        r"(?:from|import) (assistant_cli(?:\.\w+)*)\b", p.read_text(encoding="utf-8"))) - {
        "assistant_cli.plugin", "assistant_cli.testing"}) for p in sources}
    assert {k: v for k, v in private.items() if v} == {}
