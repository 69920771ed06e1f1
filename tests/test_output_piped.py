"""The commands of tools, inbox and plugins print like every list: piped rows are
tab-separated and never cut, so a long id survives `| grep`; --json is one document."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from assistant_cli.paths import resolve
from assistant_cli.store.db import Database
from assistant_cli.store.tool_calls import ApprovalStore
from tests.clirun import cli
from tests.conftest import cli_command, subprocess_env
from tests.test_output import ISO_UTC, LONG_ID


def test_tools_approvals_piped_through_grep_keeps_the_long_sender_whole(
        isolated_home: Path) -> None:
    """As a user's shell runs it: `tools approvals | grep ID`."""
    env = subprocess_env(isolated_home)
    store = ApprovalStore(Database(resolve().database))
    chat_approval = store.add("files.read_text", "telegram", LONG_ID, "-100" + LONG_ID, "chat")
    store.add("time.now", "whatsapp", "4915112345678", None, "always")
    cmd = " ".join([*cli_command(), "tools", "approvals"]) + f" | grep {LONG_ID}"
    found = subprocess.run(cmd, shell=True, env=env, capture_output=True, text=True)
    assert found.returncode == 0, found.stderr
    fields = found.stdout.rstrip("\n").split("\t")
    assert fields[:5] == [str(chat_approval), "files.read_text", f"telegram:{LONG_ID}", "chat",
                          "-100" + LONG_ID]
    assert ISO_UTC.match(fields[5])


def test_empty_approvals_and_inbox_lists_say_so_on_stderr_when_piped(
        isolated_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for args, words in ((("tools", "approvals"), "no remembered approvals"),
                        (("inbox", "failed"), "no given-up messages")):
        code, out, err = cli(capsys, *args)
        assert (code, out) == (0, "") and words in err


def test_plugins_list_piped_rows_are_whole_and_json_is_one_document(
        isolated_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "plugins", "list", "--kind", "locale")
    assert code == 0
    rows = [line.split("\t") for line in out.splitlines()]
    assert rows and all(len(r) == 8 and r[0] == "locale" for r in rows)
    assert "zh_CN" in [r[1] for r in rows]
    code, out, _ = cli(capsys, "plugins", "list", "--kind", "locale", "--json")
    doc = json.loads(out)  # one document, not one object per line
    assert [r["name"] for r in doc["plugins"]] == [r[1] for r in rows]
