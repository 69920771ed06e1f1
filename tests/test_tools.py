"""The tool type (schema from signature and docstring), the policy, the built-ins, config."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pytest

from assistant_cli.config.loader import parse_document, validate_document
from assistant_cli.config.models import BuiltinToolsConfig, ToolRule
from assistant_cli.domain.events import ToolCalled
from assistant_cli.errors import ConfigError
from assistant_cli.store.db import Database
from assistant_cli.store.tool_calls import MemoryStore
from assistant_cli.tools.base import Caller, reset_caller, set_caller, tool
from assistant_cli.tools.builtins import builtin_tools
from assistant_cli.tools.policy import ToolPolicy


@tool(name="weather.today")
async def today(city: str, days: int = 1, unit: Literal["c", "f"] = "c",
                tags: list[str] | None = None) -> dict[str, object]:
    """Today's weather for a city.

    More words that are not the summary.

    Args:
        city: the city's name,
            e.g. "Lisbon".
        days: how many days.

    Returns:
        a forecast.
    """
    return {"city": city, "days": days, "unit": unit}


def test_schema_comes_from_signature_and_docstring() -> None:
    assert today.name == "weather.today" and today.source == "plugin"
    assert today.description == "Today's weather for a city."
    assert today.parameters == {
        "type": "object", "additionalProperties": False, "required": ["city"],
        "properties": {
            "city": {"type": "string", "description": 'the city\'s name, e.g. "Lisbon".'},
            "days": {"type": "integer", "description": "how many days.", "default": 1},
            "unit": {"enum": ["c", "f"], "default": "c"},
            "tags": {"type": "array", "items": {"type": "string"}},
        }}


async def test_tool_result_that_is_not_text_goes_back_as_json() -> None:
    assert await today.run({"city": "Lisbon"}) == '{"city": "Lisbon", "days": 1, "unit": "c"}'


def test_a_tool_must_be_async() -> None:
    def sync() -> str:
        return ""

    with pytest.raises(TypeError, match="async def"):
        tool()(sync)  # type: ignore[arg-type]


def test_policy_exact_then_most_specific_glob_then_default() -> None:
    policy = ToolPolicy({
        "default": ToolRule(allow="owner", confirm=True),
        "files.*": ToolRule(allow="paired", confirm=True),
        "files.read_*": ToolRule(allow="paired", confirm=False),
        "files.read_secret": ToolRule(allow="owner", confirm=True),
    })
    assert policy.rule_for("files.read_text") == ToolRule(allow="paired", confirm=False)
    assert policy.rule_for("files.write") == ToolRule(allow="paired", confirm=True)
    assert policy.rule_for("files.read_secret").allow == "owner"
    assert policy.rule_for("tracker.create") == ToolRule(allow="owner", confirm=True)
    assert policy.permits("files.read_text", "paired")
    assert not policy.permits("files.read_text", "anyone")
    assert not policy.permits("tracker.create", "paired")
    assert ToolPolicy({}).rule_for("x.y") == ToolRule(allow="owner", confirm=True)


def test_tools_section_reads_as_the_issue_shows() -> None:
    text = """
tools:
  max_steps: 8
  timeout: 30s
  mcp_servers:
    files:
      command: npx
      args: ["-y", "@modelcontextprotocol/server-filesystem", "/home/me/notes"]
      env: {API_KEY: keyring:files_key}
    tracker:
      url: https://mcp.example.com/mcp
      headers: {Authorization: keyring:tracker_auth}
  policy:
    default: {allow: owner, confirm: true}
    "files.read_*": {allow: paired, confirm: false}
"""
    config = validate_document(parse_document(text, "c.yaml"), "c.yaml")
    assert config.tools.timeout == 30.0 and config.tools.max_steps == 8
    assert config.tools.mcp_servers["files"].env == {"API_KEY": "keyring:files_key"}
    assert config.tools.mcp_servers["tracker"].url == "https://mcp.example.com/mcp"


@pytest.mark.parametrize(("server", "message"), [
    ("{command: a, url: 'http://x'}", "either command"),
    ("{}", "either command"),
    ("{url: 'ftp://x'}", "http://"),
])
def test_mcp_server_needs_one_transport(server: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        validate_document(parse_document(f"tools:\n  mcp_servers:\n    s: {server}\n", "c"), "c")


def test_grpc_provider_says_it_has_no_tool_support() -> None:
    text = ("providers:\n  g: {kind: grpc, base_url: 'grpc://127.0.0.1:1', model: m}\n"
            "tools:\n  builtins: {time: true}\n")
    with pytest.raises(ConfigError, match="kind grpc has no tool support"):
        validate_document(parse_document(text, "c"), "c")


async def test_builtin_time_and_memory_per_sender(tmp_path: Path) -> None:
    store = MemoryStore(Database(tmp_path / "s.db"))
    tools = {t.name: t for t in builtin_tools(
        BuiltinToolsConfig(time=True, memory=True, timezone="Asia/Tokyo"), store)}
    assert set(tools) == {"time.now", "memory.remember", "memory.recall"}
    assert "+09:00" in await tools["time.now"].run({})
    token = set_caller(Caller("telegram", "1", "c"))
    try:
        await tools["memory.remember"].run({"text": "likes tea"})
        assert await tools["memory.recall"].run({}) == "likes tea"
    finally:
        reset_caller(token)
    token = set_caller(Caller("telegram", "2", "c"))
    try:
        assert await tools["memory.recall"].run({}) == "nothing remembered"
    finally:
        reset_caller(token)
    assert store.forget("telegram:1") == 1


def test_builtins_are_off_unless_enabled(tmp_path: Path) -> None:
    assert builtin_tools(BuiltinToolsConfig(), MemoryStore(Database(tmp_path / "s.db"))) == []


def test_unknown_time_zone_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"tools\.builtins\.timezone"):
        builtin_tools(BuiltinToolsConfig(time=True, timezone="Mars/Olympus"),
                      MemoryStore(Database(tmp_path / "s.db")))


def test_tool_calls_errors_and_latency_reach_metrics() -> None:
    from prometheus_client.parser import text_string_to_metric_families

    from assistant_cli.observability.serve_metrics import ServeMetrics

    metrics = ServeMetrics(lambda: 0)
    for outcome, ms in (("ok", 12.0), ("timeout", 30000.0), ("ok", 3.0)):
        metrics.handle(ToolCalled(tool="t.add", outcome=outcome, duration_ms=ms))
    families = {f.name: f for f in text_string_to_metric_families(metrics.render())}
    calls = {(s.labels["outcome"]): s.value for s in families["assistant_tool_calls"].samples
             if s.name.endswith("_total")}
    assert calls == {"ok": 2.0, "timeout": 1.0}
    errors = [s.value for s in families["assistant_tool_errors"].samples
              if s.name.endswith("_total")]
    assert errors == [1.0]
    count = [s.value for s in families["assistant_tool_latency_seconds"].samples
             if s.name.endswith("_count")]
    assert count == [3.0]


def test_plugin_tools_load_from_entry_points_and_broken_ones_are_reported(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib import metadata

    from assistant_cli.tools import plugins
    from assistant_cli.tools.registry import ToolRegistry

    good = metadata.EntryPoint("weather", "tests.test_tools:today", plugins.GROUP)
    bad = metadata.EntryPoint("broken", "tests.test_tools:not_there", plugins.GROUP)
    wrong = metadata.EntryPoint("wrong", "tests.test_tools:test_a_tool_must_be_async",
                                plugins.GROUP)
    monkeypatch.setattr("assistant_cli.tools.plugins.metadata.entry_points",
                        lambda group: [good, bad, wrong] if group == plugins.GROUP else [])
    registry = ToolRegistry()
    plugins.load_plugin_tools(registry)
    assert [t.name for t in registry.all()] == ["weather.today"]
    assert "AttributeError" in registry.failures["plugin broken"]
    assert "is not a Tool (made with @tool" in registry.failures["plugin wrong"]
