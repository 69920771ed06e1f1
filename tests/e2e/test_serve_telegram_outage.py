"""End to end: Telegram's sendMessage fails for a while; every answer still arrives once.

Before the retry schedule, a failed final send went back to the queue at once and was
failed for good after 5 tries: 10 x 500 lost both answers below within seconds.
"""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import pytest

from assistant_cli.i18n import messages as texts
from assistant_cli.i18n import translator
from tests.e2e.telegram_harness import Starter, inbox_rows, wait
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.telegram_server import FakeTelegram

pytestmark = pytest.mark.e2e

# Small waits so the outage below outlasts many tries in a few seconds of wall time.
FAST_RETRIES = "delivery:\n  retry_initial: 0.2\n  retry_max: 1.0\n  give_up_after: 120\n"


def test_answers_survive_a_send_outage_of_500s_then_429s_and_arrive_once_unregenerated(
    start: Starter, tg: FakeTelegram, model: FakeOpenAI, isolated_home: Path
) -> None:
    start.configure(extra=FAST_RETRIES)
    tg.fail_next("sendMessage", 500, count=14)
    tg.fail_next("sendMessage", 429, parameters={"retry_after": 1}, count=6)
    serve = start()
    tg.push_message(4001, "first question")
    tg.push_message(4002, "second question")
    wait(lambda: tg.messages_to(4001) and tg.messages_to(4002), timeout=30,
         what="both answers after the outage")
    time.sleep(0.5)  # a duplicate would show up now
    assert tg.messages_to(4001) == ["echo: first question"]
    assert tg.messages_to(4002) == ["echo: second question"]
    statuses = [c.status for c in tg.log if c.method == "sendMessage"]
    assert statuses.count(500) == 14 and statuses.count(429) == 6  # far beyond 5 tries each
    assert sorted(model.user_messages()) == ["first question", "second question"]  # once each
    assert [r[1:] for r in inbox_rows(isolated_home)] == [("done", "answered")] * 2
    assert serve.terminate() == 0, serve.output[-2000:]


def test_a_blocked_chat_is_given_up_listed_counted_and_answered_after_inbox_retry(
    start: Starter, tg: FakeTelegram, model: FakeOpenAI, isolated_home: Path
) -> None:
    start.configure(extra=FAST_RETRIES)
    tg.fail_next("sendMessage", 403)  # "Forbidden: bot was blocked by the user"
    serve = start()
    tg.push_message(5001, "are you there?")
    wait(lambda: [r[1:] for r in inbox_rows(isolated_home)] == [("failed", "permanent")],
         what="the message given up at once")
    listed = start.cli("inbox", "failed", "--json")
    assert listed.returncode == 0, listed.stderr
    [row] = json.loads(listed.stdout)["failed"]
    assert (row["chat_id"], row["reason"], row["attempts"]) == ("5001", "permanent", 1)
    assert "blocked" in row["error"] and row["notice"] is None
    with urllib.request.urlopen(serve.gateway + "/metrics", timeout=5) as resp:
        metrics = resp.read().decode()
    assert 'assistant_messages_given_up_total{channel="telegram",reason="permanent"} 1' in metrics
    assert "assistant_inbox_failed 1" in metrics

    retried = start.cli("inbox", "retry", str(row["id"]))
    assert retried.returncode == 0, retried.stderr
    wait(lambda: tg.messages_to(5001), what="the answer after `inbox retry`")
    time.sleep(0.3)
    assert tg.messages_to(5001) == ["echo: are you there?"]
    assert model.user_messages() == ["are you there?"]  # resent, not regenerated
    audit = json.loads(start.cli("audit", "list", "--json").stdout)["entries"]
    assert [(a["action"], a["target"]) for a in audit] == [("inbox.retry", str(row["id"]))]
    assert serve.terminate() == 0, serve.output[-2000:]


def test_a_message_given_up_after_the_time_limit_is_owned_up_to_once_telegram_works(
    start: Starter, tg: FakeTelegram, model: FakeOpenAI, isolated_home: Path
) -> None:
    start.configure(extra="delivery:\n  retry_initial: 0.2\n  retry_max: 0.4\n"
                          "  give_up_after: 1\n")
    tg.fail_next("sendMessage", 500, count=1000)  # down until cleared below
    serve = start()
    tg.push_message(6001, "will this get lost?")
    wait(lambda: [r[1:] for r in inbox_rows(isolated_home)] == [("failed", "expired")],
         what="the message given up after give_up_after")
    tg.clear_faults()  # Telegram works again
    tg.push_message(6002, "hello again")
    wait(lambda: tg.messages_to(6001), what="the not-answered notice")
    time.sleep(0.5)  # a second notice would show up now
    assert tg.messages_to(6002) == ["echo: hello again"]
    assert tg.messages_to(6001) == [texts.not_answered(translator("en"), 1, "will this get lost?")]
    listed = json.loads(start.cli("inbox", "failed", "--json").stdout)["failed"]
    assert [(r["chat_id"], r["reason"], r["notice"]) for r in listed] == [
        ("6001", "expired", "sent")]
    assert "gave up on telegram message" in (isolated_home / "state" / "logs" /
                                            "assistant-cli.jsonl").read_text()
    assert serve.terminate() == 0, serve.output[-2000:]
