"""`assistant-cli tools list|test|approvals` against a real config and a real MCP server."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from assistant_cli.paths import resolve
from assistant_cli.store.audit import AuditLog
from assistant_cli.store.db import Database
from assistant_cli.store.tool_calls import ApprovalStore
from tests.clirun import cli
from tests.test_output import ISO_UTC

ROOT = Path(__file__).resolve().parent.parent


def write_config(extra: str = "") -> None:
    paths = resolve()
    paths.config_file.parent.mkdir(parents=True, exist_ok=True)
    paths.config_file.write_text(
        "tools:\n"
        "  builtins: {time: true}\n"
        "  policy:\n    \"t.*\": {allow: paired, confirm: false}\n"
        "  mcp_servers:\n"
        f"    t: {{command: {json.dumps(sys.executable)}, args: [-m, tests.fakes.mcp_app, stdio],"
        f" cwd: {json.dumps(str(ROOT))}}}\n"
        "    broken: {command: no-such-mcp-server-cmd}\n" + extra)


def test_list_shows_every_tool_with_source_and_policy_and_failures(
        capsys: pytest.CaptureFixture[str]) -> None:
    write_config()
    code, out, _ = cli(capsys, "tools", "list", "--json")
    assert code == 0
    found = json.loads(out)
    tools = {t["name"]: t for t in found["tools"]}
    assert tools["time.now"]["source"] == "built-in"
    assert tools["t.add"] == {"name": "t.add", "source": "mcp",
                              "description": "Add two integers.", "allow": "paired",
                              "confirm": False}
    assert tools["time.now"]["allow"] == "owner" and tools["time.now"]["confirm"] is True
    assert "command not found: no-such-mcp-server-cmd" in found["failed"]["broken"]
    code, out, err = cli(capsys, "tools", "list")
    assert code == 0 and "t.add\tmcp\tpaired\tno\tAdd two integers." in out.splitlines()
    assert "MCP server broken failed: command not found" in err and "broken" not in out


def test_test_runs_one_call_and_is_audited(capsys: pytest.CaptureFixture[str]) -> None:
    write_config()
    code, out, err = cli(capsys, "tools", "test", "t.add", "--args", '{"a": 2, "b": 40}')
    assert code == 0 and out == "42\n" and "(ok, " in err  # piped: stdout is the result alone
    code, out, _ = cli(capsys, "tools", "test", "t.add", "--args", '{"a": "x"}', "--json")
    assert code == 1 and json.loads(out)["outcome"] == "bad_args"
    db = Database(resolve().database)
    actions = [(e.action, e.target, e.outcome) for e in AuditLog(db, lambda: b"k").entries()]
    assert ("tools.test", "t.add", "ok") in actions


@pytest.mark.parametrize(("args", "message"), [
    (["tools", "test", "t.add", "--args", "[1]"], "is not a JSON object"),
    (["tools", "test", "nope.nothing"], "no tool named 'nope.nothing'"),
    (["tools", "approvals", "--revoke", "99"], "no active approval with id 99"),
])
def test_user_errors_name_the_input(capsys: pytest.CaptureFixture[str], args: list[str],
                                    message: str) -> None:
    write_config()
    code, _, err = cli(capsys, *args)
    assert code != 0 and message in err and "Traceback" not in err


def test_approvals_list_and_revoke(capsys: pytest.CaptureFixture[str]) -> None:
    write_config()
    db = Database(resolve().database)
    store = ApprovalStore(db)
    first = store.add("t.add", "telegram", "42", "42", "chat")
    store.add("time.now", "telegram", "42", None, "always")
    code, out, _ = cli(capsys, "tools", "approvals", "--json")
    assert code == 0
    listed = json.loads(out)["approvals"]
    assert [r["tool"] for r in listed] == ["t.add", "time.now"]
    assert ISO_UTC.match(listed[0]["created_at"]) and listed[1]["chat_id"] is None
    code, out, _ = cli(capsys, "tools", "approvals")
    assert [line.split("\t")[:5] for line in out.splitlines()] == [
        [str(first), "t.add", "telegram:42", "chat", "42"],
        [str(first + 1), "time.now", "telegram:42", "always", "-"]]
    code, out, _ = cli(capsys, "tools", "approvals", "--revoke", str(first))
    assert code == 0 and "revoked approval" in out
    assert not store.allowed("t.add", "telegram", "42", "42")
    assert store.allowed("time.now", "telegram", "42", "elsewhere")


def test_doctor_checks_each_mcp_server(capsys: pytest.CaptureFixture[str]) -> None:
    write_config()
    code, out, _ = cli(capsys, "doctor", "--json", "--only", "tools")
    assert code != 0  # the broken server fails
    report = json.loads(out)
    results = {r["id"]: r for r in (report["checks"] if isinstance(report, dict) else report)}
    good, broken = results["tools.mcp.t"], results["tools.mcp.broken"]
    assert good["status"] == "ok" and "tool(s) in" in good["found"]
    assert "t.add" in good["data"]["tools"]
    assert broken["status"] == "fail"
    assert "command not found: no-such-mcp-server-cmd" in broken["found"]
