"""End to end with tools: `serve` as a subprocess, the Telegram fake, the OpenAI fake that
streams tool calls, and a real MCP server (tests/fakes/mcp_app.py) over stdio that counts
its runs in a file."""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.telegram_harness import Starter, wait
from tests.fakes.loop_thread import Hang
from tests.fakes.openai_server import Behaviour, FakeOpenAI, Reply, ToolCalls
from tests.fakes.telegram_server import FakeTelegram

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
USER = 740_000_111
CODE_RE = re.compile(r"--code ([A-Z2-9]{12})\b")


def add_tools(home: Path, runs: Path, policy: str, extra: str = "") -> None:
    with open(home / "config.yaml", "a", encoding="utf-8") as f:
        f.write(
            "tools:\n  timeout: 1s\n  confirm_timeout: 20s\n  mcp_servers:\n"
            f"    t: {{command: {json.dumps(sys.executable)}, args: [-m, tests.fakes.mcp_app,"
            f" stdio], cwd: {json.dumps(str(ROOT))},"
            f" env: {{MCP_RUNS_FILE: {json.dumps(str(runs))}}}}}\n"
            f"{extra}  policy:\n    default: {{allow: owner, confirm: true}}\n{policy}")


def tool_then_answer(calls: dict[str, tuple[str, str]]) -> Any:
    """The model calls the tool named for the question, then answers with its result."""

    def decide(messages: list[dict[str, Any]]) -> Behaviour:
        last = messages[-1]
        if last["role"] == "tool":
            return Reply(f"result: {last['content']}")
        name, args = calls[last["content"]]
        return ToolCalls(((f"call_{len(messages)}", name, args),))

    return decide


def runs_of(runs: Path) -> int:
    return len(runs.read_text().splitlines()) if runs.exists() else 0


def pair(start: Starter, tg: FakeTelegram) -> None:
    tg.push_message(USER, "hi", first_name="Pat")
    wait(lambda: tg.messages_to(USER), what="the pairing code")
    match = CODE_RE.search(tg.messages_to(USER)[0])
    assert match is not None
    approved = start.cli("pairing", "approve", "--platform", "telegram", "--user-id",
                         str(USER), "--code", match.group(1))
    assert approved.returncode == 0, approved.stderr
    wait(lambda: len(tg.messages_to(USER)) == 2, what="the paired notice")


def press(tg: FakeTelegram, decision: str) -> str:
    wait(lambda: tg.keyboard(USER) is not None, what="the confirmation keyboard")
    found = tg.keyboard(USER)
    assert found is not None
    message_id, buttons = found
    data = next(b["callback_data"] for b in buttons if b["callback_data"].endswith(decision))
    return tg.push_callback_query(USER, message_id, data)


def test_paired_user_confirms_in_telegram_and_the_tool_runs_once(
        start: Starter, tg: FakeTelegram, model: FakeOpenAI, isolated_home: Path) -> None:
    runs = isolated_home / "runs"
    start.configure(dm_policy="pairing")
    add_tools(isolated_home, runs, '    "t.count": {allow: paired, confirm: true}\n')
    model.decide = tool_then_answer({"count please": ("t__count", '{"label": "e2e"}')})
    serve = start()
    pair(start, tg)
    tg.push_message(USER, "count please", first_name="Pat")
    press(tg, ":once")
    wait(lambda: "result: run 1" in tg.messages_to(USER), what="the answer")
    assert runs_of(runs) == 1
    assert "using t.count…" in tg.drafts_to(USER)
    offered = [t["function"]["name"] for t in model.requests[-2].body["tools"]]
    assert "t__count" in offered and "t__add" not in offered  # owner-only tools not shown
    audit = start.cli("audit", "list", "--json")
    assert '"tool.confirm"' in audit.stdout and f"telegram:{USER}" in audit.stdout
    assert serve.terminate() == 0, serve.output[-2000:]


def test_kill_9_after_the_result_was_recorded_answers_after_restart_without_rerunning(
        start: Starter, tg: FakeTelegram, model: FakeOpenAI, isolated_home: Path) -> None:
    runs = isolated_home / "runs"
    start.configure(telegram=f"    allow_from: [{USER}]\n", dm_policy="allowlist")
    add_tools(isolated_home, runs, '    "t.count": {allow: owner, confirm: false}\n')
    answer = tool_then_answer({"count once": ("t__count", "{}")})
    hung: list[bool] = []

    def decide(messages: list[dict[str, Any]]) -> Behaviour:
        if messages[-1]["role"] == "tool" and not hung:
            hung.append(True)  # the first process dies while the model "thinks"
            return Hang()
        return answer(messages)  # type: ignore[no-any-return]

    model.decide = decide
    first = start()
    tg.push_message(USER, "count once")
    wait(lambda: hung, what="the model call after the tool result")
    assert runs_of(runs) == 1
    os.killpg(first.proc.pid, signal.SIGKILL)
    assert first.proc.wait(5) == -signal.SIGKILL
    assert tg.messages_to(USER) == []

    second = start()
    wait(lambda: tg.messages_to(USER), what="the answer after the restart")
    time.sleep(0.3)  # a duplicate would show up now
    assert tg.messages_to(USER) == ["result: run 1"]
    assert runs_of(runs) == 1  # the recorded result was reused, the tool not run again
    assert second.terminate() == 0, second.output[-2000:]


def test_denied_confirmation_a_tool_timeout_and_a_server_that_exits_at_start(
        start: Starter, tg: FakeTelegram, model: FakeOpenAI, isolated_home: Path) -> None:
    runs = isolated_home / "runs"
    start.configure(telegram=f"    allow_from: [{USER}]\n", dm_policy="allowlist")
    broken = (f"    notes: {{command: {json.dumps(sys.executable)}, args: [-m,"
              f" tests.fakes.mcp_app, stdio], cwd: {json.dumps(str(ROOT))},"
              " env: {MCP_EXIT_AT_START: '3'}}\n")
    add_tools(isolated_home, runs, '    "t.slow": {allow: owner, confirm: false}\n',
              extra=broken)
    model.decide = tool_then_answer({"count": ("t__count", "{}"),
                                     "sleep": ("t__slow", '{"seconds": 5}')})
    serve = start()
    assert "MCP server notes" in serve.output and "cannot open the notes directory" in (
        serve.output)
    tg.push_message(USER, "count", language_code="zh-hans")  # asked in Chinese
    press(tg, ":deny")

    def answers() -> list[str]:
        return [m for m in tg.messages_to(USER) if m.startswith("result:")]

    wait(answers, what="the answer after the denial")
    assert answers() == ["result: error: the user declined this tool call"]  # model: English
    assert "t.count：拒绝" in tg.messages_to(USER)  # the question, edited to the decision
    assert runs_of(runs) == 0
    tg.push_message(USER, "sleep")
    wait(lambda: len(answers()) == 2, what="the answer after the timeout")
    assert answers()[-1] == "result: error: the tool did not finish within 1 s"
    assert serve.terminate() == 0, serve.output[-2000:]
