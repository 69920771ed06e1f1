"""`assistant-cli plugins`: list, new (every kind passes its own test), install, search."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from assistant_cli.plugin import API_VERSION
from assistant_cli.plugins.scaffold import KINDS
from tests.clirun import cli
from tests.conftest import cli_command, subprocess_env
from tests.fakes.package_index import FakeIndex

# pip without the network: nothing to download, build with what this environment has.
OFFLINE_PIP = {"PIP_NO_DEPS": "1", "PIP_NO_BUILD_ISOLATION": "0", "PIP_NO_INDEX": "1",
               "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


def test_list_shows_built_ins_with_kind_package_version_and_api(
        isolated_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "plugins", "list", "--json")
    assert code == 0
    rows = {(r["kind"], r["name"]): r for r in json.loads(out)["plugins"]}
    assert {("provider", "openai"), ("channel", "telegram"), ("locale", "zh_CN")} <= set(rows)
    assert rows[("locale", "zh_CN")] == {
        "kind": "locale", "name": "zh_CN", "package": "assistant-cli", "version": "0.1.0",
        "api_version": API_VERSION, "status": "loaded", "enabled": True, "error": ""}
    code, out, _ = cli(capsys, "plugins", "list", "--kind", "channel")
    rows_piped = [line.split("\t") for line in out.splitlines()]  # no header when piped
    assert [r[1] for r in rows_piped] == ["console", "telegram", "whatsapp"]
    assert {len(r) for r in rows_piped} == {8} and rows_piped[0][5:] == ["loaded", "true", ""]
    code, _, err = cli(capsys, "plugins", "list", "--kind", "widgets")
    assert code == 2 and "--kind 'widgets' is not a plugin kind" in err


def test_new_refuses_bad_names_kinds_and_existing_folders(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "plugins", "new", "x", "--kind", "widget", "--dir", str(tmp_path))
    assert code == 2 and "--kind 'widget' is not a plugin kind" in err and "handler" in err
    code, _, err = cli(capsys, "plugins", "new", "1up", "--dir", str(tmp_path))
    assert code == 2 and "plugin name '1up'" in err
    assert cli(capsys, "plugins", "new", "dup", "--dir", str(tmp_path))[0] == 0
    code, _, err = cli(capsys, "plugins", "new", "dup", "--dir", str(tmp_path))
    assert code == 2 and "already exists" in err


def test_every_kind_of_new_plugin_installs_passes_its_own_test_and_is_listed(
        tmp_path: Path, isolated_home: Path) -> None:
    """Installed (pip, no network) into a fresh target directory, as a user would."""
    made = []
    for kind in KINDS:
        name = "de" if kind == "locale" else f"my{kind}"
        done = subprocess.run([*cli_command(), "plugins", "new", name, "--kind", kind, "--dir",
                               str(tmp_path)], capture_output=True, text=True,
                              env=subprocess_env(isolated_home))
        assert done.returncode == 0, done.stderr
        made.append(tmp_path / f"assistant-cli-{name}")
    site = tmp_path / "site"
    env = subprocess_env(isolated_home, **OFFLINE_PIP)
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--target", str(site),
                          *map(str, made)], capture_output=True, text=True, env=env)
    assert pip.returncode == 0, pip.stderr
    env["PYTHONPATH"] = f"{site}:{env['PYTHONPATH']}"
    for package in made:
        test = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                               "tests"], cwd=package, capture_output=True, text=True, env=env)
        assert test.returncode == 0, f"{package.name}:\n{test.stdout[-1500:]}"
    listed = subprocess.run([*cli_command(), "plugins", "list", "--json"], capture_output=True,
                            text=True, env=env)
    rows = {(r["kind"], r["name"]): r for r in json.loads(listed.stdout)["plugins"]}
    for kind in ("handler", "provider", "channel", "locale", "tool"):
        row = rows[(kind, "de" if kind == "locale" else f"my{kind}")]
        assert (row["status"], row["api_version"]) == ("loaded", API_VERSION), row
    assert rows[("handler", "myhandler")]["enabled"] is False  # until plugins.enabled lists it


def test_search_and_install_from_a_package_index(tmp_path: Path, isolated_home: Path) -> None:
    made = subprocess.run([*cli_command(), "plugins", "new", "remindme", "--dir", str(tmp_path)],
                          capture_output=True, text=True, env=subprocess_env(isolated_home))
    assert made.returncode == 0, made.stderr
    wheels = tmp_path / "wheels"
    env = subprocess_env(isolated_home, **OFFLINE_PIP)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "-w", str(wheels),
                            str(tmp_path / "assistant-cli-remindme")], capture_output=True,
                           text=True, env=env)
    assert built.returncode == 0, built.stderr
    projects = {
        "assistant-cli-remindme": {"version": "0.1.0", "summary": "Reminders",
                                   "keywords": "assistant-cli-plugin, assistant-cli"},
        "assistant-cli-remind-legacy": {"version": "2.0", "summary": "no keyword",
                                        "keywords": ""},
        "remind-other": {"version": "1.0", "summary": "not ours", "keywords": ""},
    }
    with FakeIndex(projects, wheels) as index:
        found = subprocess.run([*cli_command(), "plugins", "search", "remind", "--index-url",
                                index.url, "--json"], capture_output=True, text=True, env=env)
        assert found.returncode == 0, found.stderr
        assert json.loads(found.stdout) == {"plugins": [
            {"name": "assistant-cli-remindme", "version": "0.1.0", "summary": "Reminders"}]}
        piped = subprocess.run([*cli_command(), "plugins", "search", "remind", "--index-url",
                                index.url], capture_output=True, text=True, env=env)
        assert piped.stdout == "assistant-cli-remindme\t0.1.0\tReminders\n"
        assert "plugins install assistant-cli-remindme" in piped.stderr
        site = tmp_path / "site"
        env.pop("PIP_NO_INDEX")
        env.update(PIP_TARGET=str(site), PYTHONPATH=f"{site}:{env['PYTHONPATH']}")
        done = subprocess.run([*cli_command(), "plugins", "install", "assistant-cli-remindme",
                               "--index-url", index.url + "/simple"], capture_output=True,
                              text=True, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "/simple/assistant-cli-remindme/" in index.paths  # --index-url reached pip
    row = done.stdout.splitlines()[0].split("\t")
    assert row == ["handler", "remindme", "assistant-cli-remindme", "0.1.0", API_VERSION,
                   "loaded", "false", ""]


def test_search_names_the_index_when_it_cannot_be_read(
        isolated_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with FakeIndex({}) as index:
        code, _, err = cli(capsys, "plugins", "search", "x", "--index-url", index.url + "/nope")
    assert code == 1 and f"answered 404 for {index.url}/nope/simple/" in err


def test_help_imports_no_plugin_machinery_or_plugin_code(isolated_home: Path) -> None:
    probe = ("import sys; from assistant_cli.cli.entry import main\n"
             "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
             "print([m for m in sys.modules if m.startswith(('assistant_cli.plugin', "
             "'assistant_cli.i18n', 'assistant_cli_', 'babel'))])")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          env=subprocess_env(isolated_home))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "[]"
