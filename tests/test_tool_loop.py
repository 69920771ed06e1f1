"""The model ↔ tool rounds of a turn against the fake OpenAI server: calls streamed as
OpenAI documents them, results recorded before the next model call, bad calls answered
with errors, max_steps, confirmations, and resuming after a crash without running twice."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant_cli.store.db import Database
from assistant_cli.tools.base import tool
from assistant_cli.tools.gate import DECLINED
from tests.fakes.openai_server import FakeOpenAI, Reply, ToolCalls
from tests.tool_support import ToolChannel, build_rig, tools_config

RUNS: list[dict[str, Any]] = []


class Killed(BaseException):
    """Stands for kill -9: nothing after it runs."""


@tool(name="files.read_text")
async def read_text(path: str, upper: bool = False) -> str:
    """Read a text file.

    Args:
        path: which file.
        upper: shout it.
    """
    RUNS.append({"path": path})
    text = f"contents of {path}"
    return text.upper() if upper else text


@tool(name="slow.wait")
async def wait() -> str:
    """Never finishes in time."""
    await asyncio.sleep(5)
    return "late"


@tool(name="bad.boom")
async def boom() -> str:
    """Always raises."""
    raise RuntimeError("disk on fire")


@tool(name="big.dump")
async def dump() -> str:
    """A huge result."""
    return "x" * 5000


TOOLS = [read_text, wait, boom, dump]


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    RUNS.clear()
    with FakeOpenAI() as server:
        yield server


def tool_messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in body["messages"] if m["role"] == "tool"]


async def test_model_calls_tool_and_answers_with_its_result(tmp_path: Path,
                                                            fake: FakeOpenAI) -> None:
    fake.enqueue(ToolCalls((("call_1", "files__read_text", '{"path": "a.txt"}'),),
                           text="Let me look. "), Reply("It says hello."))
    rig = build_rig(Database(tmp_path / "s.db"), tools_config(fake.base_url), TOOLS)
    channel = ToolChannel()
    outcome = await rig.runner.run((await rig.item("read a.txt")), channel)
    assert outcome.name == "answered"
    assert channel.replies == ["Let me look. It says hello."]
    assert channel.statuses == ["using files.read_text…"]
    assert RUNS == [{"path": "a.txt"}]
    first, second = fake.requests[0].body, fake.requests[1].body
    offered = {t["function"]["name"]: t["function"] for t in first["tools"]}
    assert offered["files__read_text"]["parameters"]["required"] == ["path"]
    assert offered["files__read_text"]["description"] == "Read a text file."
    assistant = second["messages"][-2]
    assert assistant["tool_calls"] == [{"id": "call_1", "type": "function", "function": {
        "name": "files__read_text", "arguments": '{"path": "a.txt"}'}}]
    assert tool_messages(second) == [
        {"role": "tool", "tool_call_id": "call_1", "content": "contents of a.txt"}]
    [recorded] = rig.calls.for_inbox(1)
    assert (recorded.status, recorded.result and recorded.result.content) == (
        "done", "contents of a.txt")


async def test_parallel_calls_each_get_their_result(tmp_path: Path, fake: FakeOpenAI) -> None:
    fake.enqueue(ToolCalls((("c_a", "files__read_text", '{"path": "a"}'),
                            ("c_b", "files__read_text", '{"path": "b", "upper": true}'))),
                 Reply("both read"))
    rig = build_rig(Database(tmp_path / "s.db"), tools_config(fake.base_url), TOOLS)
    await rig.runner.run((await rig.item("read two")), ToolChannel())
    results = tool_messages(fake.requests[1].body)
    assert [(m["tool_call_id"], m["content"]) for m in results] == [
        ("c_a", "contents of a"), ("c_b", "CONTENTS OF B")]


@pytest.mark.parametrize(("call", "expected"), [
    (("c1", "files__read_text", '{"path": '), "not valid JSON"),
    (("c1", "files__read_text", '{"upper": true}'), "'path' is a required property"),
    (("c1", "nope__missing", "{}"), "unknown tool 'nope__missing'"),
    (("c1", "bad__boom", "{}"), "RuntimeError: disk on fire"),
    (("c1", "slow__wait", "{}"), "did not finish within 0.5 s"),
])
async def test_bad_calls_go_back_to_the_model_as_errors(
        tmp_path: Path, fake: FakeOpenAI, call: tuple[str, str, str], expected: str) -> None:
    fake.enqueue(ToolCalls((call,)), Reply("sorry"))
    rig = build_rig(Database(tmp_path / "s.db"), tools_config(fake.base_url), TOOLS)
    channel = ToolChannel()
    outcome = await rig.runner.run((await rig.item("go")), channel)
    assert outcome.name == "answered" and channel.replies == ["sorry"]
    [result] = tool_messages(fake.requests[1].body)
    assert result["content"].startswith("error: ") and expected in result["content"]
    assert RUNS == []


async def test_oversized_result_is_truncated_and_says_so(tmp_path: Path,
                                                          fake: FakeOpenAI) -> None:
    fake.enqueue(ToolCalls((("c1", "big__dump", "{}"),)), Reply("ok"))
    rig = build_rig(Database(tmp_path / "s.db"), tools_config(fake.base_url), TOOLS)
    await rig.runner.run((await rig.item("dump")), ToolChannel())
    [result] = tool_messages(fake.requests[1].body)
    assert result["content"].startswith("x" * 200 + "\n[truncated: the result had 5,000")


async def test_max_steps_gives_the_best_answer_so_far_and_a_note(tmp_path: Path,
                                                                 fake: FakeOpenAI) -> None:
    fake.decide = lambda messages: (ToolCalls((("c", "files__read_text", '{"path": "x"}'),))
                                    if "tools" in fake.requests[-1].body else Reply("best"))
    rig = build_rig(Database(tmp_path / "s.db"), tools_config(fake.base_url), TOOLS)
    channel = ToolChannel()
    await rig.runner.run((await rig.item("loop forever")), channel)
    assert len(RUNS) == 3  # max_steps: 3
    assert "tools" not in fake.requests[-1].body  # the last round may only answer
    assert channel.replies == ["best\n\n(I stopped after 3 tool rounds; this is the best "
                               "answer I have so far.)"]


async def test_recorded_result_is_not_run_again_after_a_crash(tmp_path: Path,
                                                              fake: FakeOpenAI) -> None:
    db = Database(tmp_path / "s.db")
    fake.enqueue(ToolCalls((("c1", "files__read_text", '{"path": "a"}'),)))
    rig = build_rig(db, tools_config(fake.base_url), TOOLS)
    item = (await rig.item("read a"))
    # The first attempt dies right after the tool's result was recorded.
    real_record = rig.calls.record_result

    def crash_after_recording(*args: Any, **kwargs: Any) -> None:
        real_record(*args, **kwargs)
        raise Killed

    rig.calls.record_result = crash_after_recording  # type: ignore[method-assign]
    with pytest.raises(Killed):
        await rig.runner.run(item, ToolChannel())
    assert RUNS == [{"path": "a"}] and len(fake.requests) == 1
    fake.enqueue(Reply("answer"))
    rig.calls.record_result = real_record  # type: ignore[method-assign]
    await rig.inbox.recover()
    again = await rig.inbox.claim()
    assert again is not None and again.id == item.id
    channel = ToolChannel()
    await rig.runner.run(again, channel)
    assert RUNS == [{"path": "a"}]  # ran exactly once
    assert channel.replies == ["answer"]
    resumed = fake.requests[-1].body
    assert tool_messages(resumed) == [
        {"role": "tool", "tool_call_id": "c1", "content": "contents of a"}]


async def test_call_interrupted_while_running_is_not_run_again(tmp_path: Path,
                                                               fake: FakeOpenAI) -> None:
    db = Database(tmp_path / "s.db")
    rig = build_rig(db, tools_config(fake.base_url), TOOLS)
    item = (await rig.item("read a"))
    from assistant_cli.domain.tools import ToolCall

    rig.calls.record_requested(item.id, 0, "", [ToolCall("c1", "files.read_text", "{}")])
    rig.calls.mark_running(item.id, 0, 0)
    fake.enqueue(Reply("done"))
    await rig.runner.run(item, ToolChannel())
    assert RUNS == []
    [result] = tool_messages(fake.requests[0].body)
    assert "interrupted by a restart" in result["content"]


def confirm_config(url: str) -> str:
    return ("    \"files.*\": {allow: paired, confirm: true}\n")


@pytest.mark.parametrize(("decision", "runs", "remembered"), [
    ("once", 1, False), ("chat", 1, True), ("always", 1, True), ("deny", 0, False),
    (None, 0, False)])
async def test_confirmation_decides_and_is_audited(
        tmp_path: Path, fake: FakeOpenAI, decision: str | None, runs: int,
        remembered: bool) -> None:
    fake.enqueue(ToolCalls((("c1", "files__read_text", '{"path": "a"}'),)), Reply("ok"))
    config = tools_config(fake.base_url, confirm_config(fake.base_url))
    rig = build_rig(Database(tmp_path / "s.db"), config, TOOLS, level="paired")
    channel = ToolChannel([decision])
    await rig.runner.run((await rig.item("read a")), channel)
    assert len(RUNS) == runs
    assert channel.asked[0].tool == "files.read_text" and '"path": "a"' in channel.asked[0].prompt
    [(action, target, outcome, detail)] = rig.audit
    assert (action, target, outcome) == ("tool.confirm", "files.read_text",
                                         decision or "timeout")
    assert detail["actor"] == "test:u" and len(detail["arguments_sha256"]) == 16
    assert bool(rig.approvals.active()) == remembered
    [result] = tool_messages(fake.requests[1].body)
    if runs == 0:
        assert result["content"] == f"error: {DECLINED}"


async def test_remembered_approval_skips_the_question(tmp_path: Path, fake: FakeOpenAI) -> None:
    config = tools_config(fake.base_url, confirm_config(fake.base_url))
    rig = build_rig(Database(tmp_path / "s.db"), config, TOOLS, level="paired")
    rig.approvals.add("files.read_text", "test", "u", "c1", "chat")
    fake.enqueue(ToolCalls((("c1", "files__read_text", '{"path": "a"}'),)), Reply("ok"))
    channel = ToolChannel()
    await rig.runner.run((await rig.item("read")), channel)
    assert channel.asked == [] and len(RUNS) == 1


async def test_tools_above_the_senders_standing_are_not_offered(tmp_path: Path,
                                                                fake: FakeOpenAI) -> None:
    extra = "    \"files.*\": {allow: owner, confirm: false}\n"
    rig = build_rig(Database(tmp_path / "s.db"), tools_config(fake.base_url, extra), TOOLS,
                    level="paired")
    fake.enqueue(ToolCalls((("c1", "files__read_text", '{"path": "a"}'),)), Reply("ok"))
    await rig.runner.run((await rig.item("read")), ToolChannel())
    offered = [t["function"]["name"] for t in fake.requests[0].body["tools"]]
    assert "files__read_text" not in offered and "bad__boom" in offered
    [result] = tool_messages(fake.requests[1].body)
    assert "not allowed" in result["content"] and RUNS == []


def test_arguments_in_the_audit_are_a_digest_not_the_text() -> None:
    from assistant_cli.tools.gate import arguments_digest

    secret = json.dumps({"password": "hunter2"})
    assert "hunter2" not in arguments_digest(secret)
    assert arguments_digest(secret) == arguments_digest(secret)


async def test_reset_forgets_the_senders_memory(tmp_path: Path, fake: FakeOpenAI) -> None:
    from assistant_cli.store.tool_calls import MemoryStore

    db = Database(tmp_path / "s.db")
    memory = MemoryStore(db)
    memory.remember("test:u", "likes tea")
    memory.remember("test:other", "likes coffee")
    rig = build_rig(db, tools_config(fake.base_url), TOOLS, memory=memory)
    channel = ToolChannel()
    await rig.runner.run((await rig.item("/reset")), channel)
    assert channel.sent and memory.recall("test:u") == []
    assert memory.recall("test:other") == ["likes coffee"]


async def test_anthropic_tool_use_blocks_and_tool_results(tmp_path: Path) -> None:
    from tests.fakes.anthropic_server import FakeAnthropic, ToolUse
    from tests.fakes.anthropic_server import Reply as AReply

    RUNS.clear()
    with FakeAnthropic(api_key="sk-test-key") as fake:
        fake.enqueue(ToolUse((("toolu_1", "files__read_text", '{"path": "a"}'),
                              ("toolu_2", "files__read_text", '{"path": "b"}')),
                             text="Reading both."), AReply("done reading"))
        config = tools_config(fake.base_url, kind="anthropic")
        rig = build_rig(Database(tmp_path / "s.db"), config, TOOLS)
        channel = ToolChannel()
        await rig.runner.run((await rig.item("read a and b")), channel)
        first, second = fake.requests[0].body, fake.requests[1].body
    assert channel.replies == ["Reading both.done reading"]
    assert RUNS == [{"path": "a"}, {"path": "b"}]
    tool = next(t for t in first["tools"] if t["name"] == "files__read_text")
    assert tool["input_schema"]["required"] == ["path"]
    assistant, results = second["messages"][-2], second["messages"][-1]
    assert assistant == {"role": "assistant", "content": [
        {"type": "text", "text": "Reading both."},
        {"type": "tool_use", "id": "toolu_1", "name": "files__read_text",
         "input": {"path": "a"}},
        {"type": "tool_use", "id": "toolu_2", "name": "files__read_text",
         "input": {"path": "b"}}]}
    assert results == {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "contents of a",
         "is_error": False},
        {"type": "tool_result", "tool_use_id": "toolu_2", "content": "contents of b",
         "is_error": False}]}


async def test_responses_websocket_function_calls_and_outputs(tmp_path: Path) -> None:
    from tests.fakes.openai_ws_server import FakeResponsesWS, FunctionCalls
    from tests.fakes.openai_ws_server import Reply as WReply

    RUNS.clear()
    with FakeResponsesWS() as fake:
        fake.enqueue(FunctionCalls((("call_a", "files__read_text", '{"path": "a"}'),
                                    ("call_b", "big__dump", "{}"))), WReply("all read"))
        config = tools_config(fake.base_url, kind="openai-ws")
        rig = build_rig(Database(tmp_path / "s.db"), config, TOOLS)
        channel = ToolChannel()
        await rig.runner.run((await rig.item("read")), channel)
        await rig.runner.router.aclose()
        first, second = fake.requests[0].event, fake.requests[1].event
    assert channel.replies == ["all read"] and RUNS == [{"path": "a"}]
    tool = next(t for t in first["tools"] if t["name"] == "files__read_text")
    assert tool["type"] == "function" and tool["parameters"]["required"] == ["path"]
    calls = [i for i in second["input"] if i["type"] == "function_call"]
    outputs = [i for i in second["input"] if i["type"] == "function_call_output"]
    assert calls == [
        {"type": "function_call", "call_id": "call_a", "name": "files__read_text",
         "arguments": '{"path": "a"}'},
        {"type": "function_call", "call_id": "call_b", "name": "big__dump", "arguments": "{}"}]
    assert outputs[0] == {"type": "function_call_output", "call_id": "call_a",
                          "output": "contents of a"}
    assert outputs[1]["call_id"] == "call_b" and "[truncated" in outputs[1]["output"]


async def test_chinese_sender_is_asked_to_confirm_in_chinese(tmp_path: Path,
                                                             fake: FakeOpenAI) -> None:
    fake.enqueue(ToolCalls((("c1", "files__read_text", '{"path": "a"}'),)), Reply("好的"))
    config = tools_config(fake.base_url, confirm_config(fake.base_url))
    rig = build_rig(Database(tmp_path / "s.db"), config, TOOLS, level="paired")
    channel = ToolChannel(["deny"])
    await rig.runner.run((await rig.item("读 a", language_code="zh-hans")), channel)
    [asked] = channel.asked
    assert asked.language == "zh_CN"
    assert asked.prompt == ('助手想使用 files.read_text，参数：\n{\n "path": "a"\n}\n是否允许？')
    [result] = tool_messages(fake.requests[1].body)
    assert result["content"] == f"error: {DECLINED}"  # the model is told in English


async def test_tool_status_and_step_note_follow_the_senders_language(
        tmp_path: Path, fake: FakeOpenAI) -> None:
    fake.decide = lambda messages: (ToolCalls((("c", "files__read_text", '{"path": "x"}'),))
                                    if "tools" in fake.requests[-1].body else Reply("最好"))
    rig = build_rig(Database(tmp_path / "s.db"), tools_config(fake.base_url), TOOLS)
    channel = ToolChannel()
    await rig.runner.run((await rig.item("一直读", language_code="zh_CN")), channel)
    assert channel.statuses == ["正在使用 files.read_text…"] * 3
    assert channel.replies == [
        "最好\n\n（我在 3 轮工具调用后停了下来；这是我目前能给出的最好回答。）"]
