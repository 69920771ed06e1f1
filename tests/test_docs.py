"""The plugin docs: the API reference builds with warnings as errors, and the
"write your first plugin" guide's commands work as written."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

from tests.conftest import cli_command, subprocess_env
from tests.test_plugins_cli import OFFLINE_PIP

ROOT = Path(__file__).resolve().parent.parent


def test_the_api_reference_builds_strict(tmp_path: Path) -> None:
    built = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d",
                            str(tmp_path / "site")], cwd=ROOT, capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    api = (tmp_path / "site" / "api" / "index.html").read_text(encoding="utf-8")
    for name in ("API_VERSION", "Handler", "HandlerContext", "Locale", "check_api_version",
                 "FakeContext", "LoopbackProvider"):
        assert name in api, name
    for anchor in ("plugin.tool", "plugin.Tool", "plugin.current_caller", "plugin.Caller",
                   "testing.run_tool"):  # the tool API, documented from its docstrings
        assert f'id="assistant_cli.{anchor}"' in api, anchor


def guide_commands() -> list[str]:
    text = (ROOT / "docs" / "plugins" / "first-plugin.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- guide:commands -->\n```sh\n(.*?)```", text, re.S)
    assert block is not None
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_the_first_plugin_guide_commands_work_as_written(tmp_path: Path,
                                                         isolated_home: Path) -> None:
    site = tmp_path / "site"
    env = subprocess_env(isolated_home, **OFFLINE_PIP, PIP_TARGET=str(site))
    env["PYTHONPATH"] = f"{site}:{env['PYTHONPATH']}"  # where PIP_TARGET installs
    cwd = tmp_path
    outputs = []
    for line in guide_commands():
        args = shlex.split(line)
        if args[0] == "cd":
            cwd = cwd / args[1]
            continue
        program = {"assistant-cli": cli_command(), "python": [sys.executable]}[args[0]]
        done = subprocess.run([*program, *args[1:]], cwd=cwd, capture_output=True, text=True,
                              env=env, timeout=120)
        assert done.returncode == 0, f"{line}\n{done.stdout[-1500:]}\n{done.stderr[-1500:]}"
        outputs.append(done.stdout)
    assert "2 passed" in outputs[1]
    listed = [row.split() for row in outputs[-1].splitlines()]
    assert ["handler", "hello", "assistant-cli-hello", "0.1.0"] in [r[:4] for r in listed]
