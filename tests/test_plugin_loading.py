"""Loading plugins: entry points, API versions, settings with file:line errors, failures."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from assistant_cli.config.loader import parse_document, validate_document, validate_section
from assistant_cli.errors import ConfigError, PluginError
from assistant_cli.plugin import API_VERSION, check_api_version
from assistant_cli.plugins import registry
from assistant_cli.plugins.loading import load_handlers
from tests.plugin_dists import install_fake_dist

GOOD = """
from pydantic import BaseModel
from assistant_cli.plugin import Answer, Handler

class Settings(BaseModel, extra="forbid"):
    greeting: str = "hi"
    times: int = 1

class Greeter(Handler):
    name = "greet"
    Settings = Settings
    async def handle(self, message, ctx):
        return Answer(self.settings.greeting * self.settings.times)
"""
FUTURE = """
from assistant_cli.plugin import Handler
class Future(Handler):
    name = "future"
    api_version = "2.0"
    async def handle(self, message, ctx):
        return None
"""
CONFIG = """version: 1
plugins:
  enabled: [greet, future, broken]
  settings:
    greet:
      greeting: hello
      times: lots
"""


@pytest.fixture(autouse=True)
def plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    install_fake_dist(tmp_path / "site", monkeypatch, "assistant-cli-greet",
                      {"assistant_cli.handlers": {"greet": "greet_plugin:Greeter",
                                                  "future": "future_plugin:Future",
                                                  "broken": "broken_plugin:Nope"}},
                      {"greet_plugin": GOOD, "future_plugin": FUTURE,
                       "broken_plugin": "import not_a_module_anywhere\n"})
    yield
    registry.available.cache_clear()


def load(text: str) -> Sequence[object]:
    doc = parse_document(text, "config.yaml")
    config = validate_document(doc, "config.yaml")
    return load_handlers(config.plugins, lambda model, data, name: validate_section(
        model, data, ("plugins", "settings", name), doc, "config.yaml"))


def test_settings_errors_name_file_line_and_key_like_the_rest_of_config(
        capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ConfigError) as info:
        load(CONFIG.replace("[greet, future, broken]", "[greet]").replace(
            "plugins:\n", "plugins:\n  required: [greet]\n"))
    assert "config.yaml:8: plugins.settings.greet.times: input should be a valid integer" in (
        info.value.message)


def test_broken_and_incompatible_plugins_are_skipped_with_package_and_reason(
        capsys: pytest.CaptureFixture[str]) -> None:
    loaded = load(CONFIG.replace("lots", "2"))
    assert [h.name for h in loaded] == ["greet"]  # type: ignore[attr-defined]
    assert loaded[0].handler.settings.greeting == "hello"  # type: ignore[attr-defined]
    err = capsys.readouterr().err
    assert ("plugin future skipped: plugin assistant-cli-greet was built for plugin API 2.0, "
            f"but this assistant-cli offers API {API_VERSION}") in err
    assert ("plugin broken skipped: plugin assistant-cli-greet failed to import "
            "(broken_plugin:Nope): ModuleNotFoundError") in err


def test_a_required_plugin_that_fails_stops_serve() -> None:
    with pytest.raises(PluginError) as info:
        load(CONFIG.replace("lots", "2").replace("plugins:\n",
                                                 "plugins:\n  required: [future]\n"))
    assert "assistant-cli-greet" in info.value.message and "2.0" in info.value.message


def test_unknown_enabled_handler_names_what_is_installed(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert load("plugins:\n  enabled: [gret]\n") == []
    err = capsys.readouterr().err
    assert "no handler plugin named 'gret' is installed (installed: broken, future, greet" in err
    assert "did you mean 'greet'?" in err


def test_api_version_check_names_package_both_versions_and_the_fix() -> None:
    check_api_version("p", API_VERSION)
    check_api_version("p", API_VERSION.split(".")[0] + ".0")
    with pytest.raises(PluginError) as newer:
        check_api_version("assistant-cli-x", "1.9")
    assert "assistant-cli-x was built for plugin API 1.9" in newer.value.message
    assert "upgrade assistant-cli" in str(newer.value.hint)
    with pytest.raises(PluginError) as older:
        check_api_version("assistant-cli-x", "0.3")
    assert "pip install -U assistant-cli-x" in str(older.value.hint)
    with pytest.raises(PluginError, match=r"not MAJOR\.MINOR"):
        check_api_version("assistant-cli-x", "one")


def test_config_validate_checks_enabled_plugins_settings(
        isolated_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.clirun import cli

    (isolated_home / "config.yaml").write_text(CONFIG.replace("[greet, future, broken]",
                                                              "[greet]"))
    code, _, err = cli(capsys, "config", "validate")
    assert code == 2
    assert "config.yaml:7: plugins.settings.greet.times: input should be a valid integer" in err
    (isolated_home / "config.yaml").write_text(CONFIG.replace("lots", "2"))
    code, _, err = cli(capsys, "config", "validate")
    assert code == 1 and "plugin assistant-cli-greet was built for plugin API 2.0" in err


TOOLS = """
from assistant_cli.plugin import tool

@tool(name="count.words")
async def words(text: str) -> int:
    '''Count words.'''
    return len(text.split())

@tool(name="count.future", api_version="2.0")
async def future(text: str) -> int:
    '''Built for an API we do not offer.'''
    return 0

TOOLS = [words]
NEWER = [future]
"""


@pytest.fixture
def tool_plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install_fake_dist(tmp_path / "tools-site", monkeypatch, "assistant-cli-count",
                      {"assistant_cli.tools": {"count": "count_plugin:TOOLS",
                                               "newer": "count_plugin:NEWER"}},
                      {"count_plugin": TOOLS})


def load_tools(plugins: str) -> tuple[list[str], dict[str, str]]:
    from assistant_cli.tools.plugins import load_plugin_tools
    from assistant_cli.tools.registry import ToolRegistry

    config = validate_document(parse_document(f"plugins:\n{plugins}", "c"), "c")
    found = ToolRegistry()
    load_plugin_tools(found, config.plugins)
    # Only this test's package: the examples/ plugins may be installed too.
    return ([t.name for t in found.all() if t.name.startswith("count.")],
            {k: v for k, v in found.failures.items() if "assistant-cli-count" in v})


def test_tool_plugins_honour_disabled_and_the_api_version(tool_plugins: None) -> None:
    names, failures = load_tools("  disabled: []\n")
    assert names == ["count.words"]
    assert failures == {"plugin newer": (
        "plugin assistant-cli-count was built for plugin API 2.0, but this assistant-cli "
        f"offers API {API_VERSION}; fix: upgrade assistant-cli (pip install -U assistant-cli),"
        " or install an older assistant-cli-count")}
    assert load_tools("  disabled: [count, newer]\n") == ([], {})
    with pytest.raises(PluginError, match=r"built for plugin API 2\.0"):
        load_tools("  required: [newer]\n")


def test_plugins_list_shows_a_tool_plugins_version_and_whether_it_is_disabled(
        tool_plugins: None) -> None:
    from assistant_cli.config.models import PluginsConfig
    from assistant_cli.plugins.catalog import all_plugins

    rows = {r.name: r for r in all_plugins(PluginsConfig(disabled=["count"]), ["tool"])}
    assert (rows["count"].status, rows["count"].api_version, rows["count"].enabled) == (
        "loaded", API_VERSION, False)
    assert (rows["newer"].status, rows["newer"].api_version) == ("failed", "2.0")
