"""End to end on Telegram: chat texts in the sender's language, handler plugins in `serve`."""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.telegram_harness import Starter, inbox_rows, wait
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.telegram_server import FakeTelegram

pytestmark = pytest.mark.e2e

STRANGER = 731_000_111
FRIEND = 731_000_222
BOOM = """
from assistant_cli.plugin import Handler

class Boom(Handler):
    name = "boom"
    async def handle(self, message, ctx):
        raise RuntimeError("boom plugin is broken")
"""


def test_a_sender_whose_app_is_in_chinese_gets_the_pairing_prompt_in_chinese(
        start: Starter, tg: FakeTelegram, model: FakeOpenAI) -> None:
    start.configure(dm_policy="pairing")
    start()
    tg.push_message(STRANGER, "你好", first_name="Li", language_code="zh-hans")
    wait(lambda: tg.messages_to(STRANGER), what="the pairing prompt")
    [prompt] = tg.messages_to(STRANGER)
    assert prompt.startswith("你好！我只和主人批准过的人交谈。\n\n你的用户 ID：731000111\n配对码：")
    assert re.search(rf"assistant-cli pairing approve --platform telegram --user-id {STRANGER} "
                     r"--code [A-Z2-9]{12}\n\n配对码将在 \d+ 分钟后过期。$", prompt), prompt
    assert model.requests == []


def test_an_example_handler_answers_without_the_model_and_a_raising_one_costs_nothing(
        start: Starter, tg: FakeTelegram, model: FakeOpenAI, isolated_home: Path,
        tmp_path: Path) -> None:
    site = _install_boom(tmp_path / "site")
    start.env["PYTHONPATH"] = f"{site}:{start.env['PYTHONPATH']}"
    with open(isolated_home / "config.yaml", "a", encoding="utf-8") as config:
        config.write("plugins:\n  enabled: [boom, remind]\n"
                     "  settings:\n    remind: {max_per_sender: 5}\n")
    serve = start()
    tg.push_message(FRIEND, "/remind 10m stretch")
    wait(lambda: tg.messages_to(FRIEND), what="the handler's answer")
    assert tg.messages_to(FRIEND) == ["OK, I'll remind you in 10m: stretch"]
    assert model.requests == []
    tg.push_message(FRIEND, "hello")
    wait(lambda: len(tg.messages_to(FRIEND)) == 2, what="the model's answer")
    assert tg.messages_to(FRIEND)[1] == "echo: hello"
    # The row is marked done in the commit after the send: wait for it, do not race it.
    wait(lambda: [r[2] for r in inbox_rows(isolated_home)] == ["handled", "answered"],
         what="both messages recorded as handled and answered")
    with urllib.request.urlopen(serve.gateway + "/metrics", timeout=5) as resp:
        metrics = resp.read().decode()
    assert 'assistant_handler_failures_total{handler="boom",reason="error"} 2' in metrics
    logged = (isolated_home / "state" / "logs" / "assistant-cli.jsonl").read_text()
    assert "boom plugin is broken" in logged


def _install_boom(site: Path) -> Path:
    """A broken handler package, installed where only this test's `serve` looks."""
    info = site / "assistant_cli_boom-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: assistant-cli-boom\n"
                                   "Version: 1.0\n")
    (info / "entry_points.txt").write_text("[assistant_cli.handlers]\nboom = boom_plugin:Boom\n")
    (site / "boom_plugin.py").write_text(BOOM)
    return site
