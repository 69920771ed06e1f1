"""`assistant-cli plugins`: list, create, install and find plugins."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from assistant_cli.cli import output
from assistant_cli.cli.common import cli_state

if TYPE_CHECKING:
    from assistant_cli.config.models import PluginsConfig
    from assistant_cli.plugins.catalog import PluginRow

app = typer.Typer(
    help="List, create, install and find plugins (handlers, tools, providers, channels, "
    "languages).\n\nExample: assistant-cli plugins new remind --kind handler",
    no_args_is_help=True, rich_markup_mode=None)

COLUMNS = ("kind", "name", "package", "version", "api_version", "status", "enabled")


def _plugins_config(ctx: typer.Context) -> PluginsConfig:
    from assistant_cli.config.models import PluginsConfig

    state = cli_state(ctx)
    if not state.paths.config_file.exists():
        return PluginsConfig()
    return state.load_config().plugins


@app.command("list")
def list_plugins(
    ctx: typer.Context,
    json_out: output.JsonOpt = False,
    kind: Annotated[str | None, typer.Option(
        "--kind", help="Only this kind: handler, tool, provider, channel or locale.")] = None,
) -> None:
    """Every plugin found, built-ins included: kind, name, package, version, API version,
    whether it loads (and why not) and whether config enables it.

    Piped, each row is tab-separated: kind, name, package, version, api_version, status,
    enabled (true/false), error (empty when it loads).

    Example: assistant-cli plugins list --kind handler | cut -f2
    """
    from assistant_cli.errors import UsageError
    from assistant_cli.plugins.catalog import GROUPS, all_plugins

    if kind is not None and kind not in GROUPS:
        raise UsageError(f"--kind {kind!r} is not a plugin kind",
                         hint=f"use one of: {', '.join(GROUPS)}")
    rows = all_plugins(_plugins_config(ctx), [kind] if kind else None)
    _print_rows(rows, json_out)


def _print_rows(rows: list[PluginRow], json_out: bool) -> None:
    if json_out:
        output.print_json({"plugins": [row.as_dict() for row in rows]})
        return
    if not rows:
        output.say_empty("no plugins of that kind")
        return
    table = output.Table((*COLUMNS, "error"))
    for r in rows:
        table.add(r.kind, r.name, r.package, r.version, r.api_version,
                  output.Cell(r.status, "green" if r.status == "loaded" else "red"),
                  str(r.enabled).lower(), r.error)
    output.print_table(table)


@app.command("new")
def new(
    name: Annotated[str, typer.Argument(help="The plugin's name, e.g. remind.")],
    kind: Annotated[str, typer.Option(
        "--kind", help="handler, tool, provider, channel or locale (for a locale, NAME is the "
        "language, e.g. de).")] = "handler",
    directory: Annotated[Path, typer.Option(
        "--dir", help="Where to create the assistant-cli-NAME folder.")] = Path("."),
) -> None:
    """Write a complete plugin package (pyproject.toml with the entry point, the module,
    a README and a passing test) into a new folder.

    Example: assistant-cli plugins new remind --kind handler && cd assistant-cli-remind
    """
    from assistant_cli.plugins.scaffold import write

    target = write(name, kind, directory)
    print(f"created {target}")
    print(f"next: cd {target} && pip install -e '.[test]' && python -m pytest -q")


@app.command("install")
def install(
    ctx: typer.Context,
    spec: Annotated[str, typer.Argument(
        help="What pip should install: a name (assistant-cli-remind), a path or a URL.")],
    index_url: Annotated[str | None, typer.Option(
        "--index-url", help="Package index to install from (passed to pip).")] = None,
) -> None:
    """Install a plugin into the environment assistant-cli runs in (with pip), then show
    its `plugins list` row.

    Example: assistant-cli plugins install assistant-cli-remind
    """
    import subprocess

    from assistant_cli.errors import AssistantError

    before = {(r["kind"], r["name"], r["version"]) for r in _rows_from_child()}
    command = [sys.executable, "-m", "pip", "install", spec]
    if index_url:
        command += ["--index-url", index_url]
    print("+ " + " ".join(command[2:]), file=sys.stderr, flush=True)
    # pip talks on stderr here: stdout is the plugin's row, for scripts.
    if subprocess.run(command, stdout=sys.stderr).returncode != 0:
        raise AssistantError(f"pip could not install {spec!r} (see its output above)",
                             hint="check the name or path, and --index-url if you use one")
    # A fresh process: an editable install's import hook only takes effect in a new one.
    new_rows = [r for r in _rows_from_child()
                if (r["kind"], r["name"], r["version"]) not in before]
    if not new_rows:
        print(f"{spec} is installed, but it registers no assistant-cli plugin")
        return
    from assistant_cli.plugins.catalog import PluginRow

    _print_rows([PluginRow(**r) for r in new_rows], False)  # type: ignore[arg-type]
    if any(r["kind"] == "handler" for r in new_rows):
        output.note("enable a handler by adding its name to plugins.enabled in config.yaml")


def _rows_from_child() -> list[dict[str, object]]:
    import subprocess

    out = subprocess.run([sys.executable, "-m", "assistant_cli", "plugins", "list", "--json"],
                         capture_output=True, text=True, check=False).stdout
    try:
        rows: list[dict[str, object]] = json.loads(out)["plugins"]
    except (ValueError, KeyError, TypeError):
        return []  # the child failed; its rows are unknown, so every row counts as new
    return rows


@app.command("search")
def search(
    ctx: typer.Context,
    term: Annotated[str, typer.Argument(help="Part of the plugin's name, e.g. remind.")],
    index_url: Annotated[str | None, typer.Option(
        "--index-url", help="Package index with a JSON API (default plugins.index_url, "
        "https://pypi.org).")] = None,
    json_out: output.JsonOpt = False,
) -> None:
    """Find published plugins: packages named assistant-cli-* with the keyword
    assistant-cli-plugin. Piped, each row is tab-separated: name, version, summary.

    Example: assistant-cli plugins search remind
    """
    from assistant_cli.plugins.index import search as find

    found = find(index_url or _plugins_config(ctx).index_url, term)
    if json_out:
        output.print_json({"plugins": [item.as_dict() for item in found]})
        return
    if not found:
        output.say_empty(f"no plugin named assistant-cli-*{term}* found")
        return
    table = output.Table(("name", "version", "summary"))
    for item in found:
        table.add(item.name, item.version, item.summary)
    output.print_table(table)
    output.note(f"install one with: assistant-cli plugins install {found[0].name}")
