"""End to end on Telegram: pairing approved from the CLI, chat commands, conflicts, webhooks."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import time
from pathlib import Path

import pytest

from tests.e2e.telegram_harness import HOOK_SECRET, Starter, http, inbox_rows, wait
from tests.e2e.test_serve_gateway import _status as gateway_status
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.telegram_server import FakeTelegram

pytestmark = pytest.mark.e2e

STRANGER = 730_000_111
FRIEND = 730_000_222
CODE_RE = re.compile(r"--code ([A-Z2-9]{12})\b")


def test_a_stranger_gets_one_code_is_approved_from_the_cli_and_is_then_answered(
    start: Starter, tg: FakeTelegram, model: FakeOpenAI, isolated_home: Path
) -> None:
    start.configure(dm_policy="pairing")
    start()
    for text in ("hello?", "anyone there?", "please answer"):
        tg.push_message(STRANGER, text, first_name="Mallory")
    wait(lambda: [r[1:] for r in inbox_rows(isolated_home)] == [("done", "blocked")] * 3,
         what="all three messages handled")
    [prompt] = tg.messages_to(STRANGER)  # one reply, however often they write
    assert f"Your user id: {STRANGER}" in prompt
    assert re.search(r"Pairing code: [A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}\n", prompt)
    match = CODE_RE.search(prompt)
    assert match is not None, prompt
    assert (f"assistant-cli pairing approve --platform telegram --user-id {STRANGER} "
            f"--code {match.group(1)}") in prompt
    assert model.requests == []
    listed = json.loads(start.cli("pairing", "list", "--json").stdout)
    assert [(p["user_id"], p["status"]) for p in listed["pending"]] == [(str(STRANGER), "pending")]

    approve = start.cli("pairing", "approve", "--platform", "telegram", "--user-id",
                        str(STRANGER), "--code", match.group(1))
    assert approve.returncode == 0, approve.stderr
    approved_at = time.monotonic()
    wait(lambda: len(tg.messages_to(STRANGER)) == 2, timeout=5, what="the paired notice")
    assert time.monotonic() - approved_at < 5
    assert tg.messages_to(STRANGER)[1].startswith("You're paired")
    assert model.requests == []

    tg.push_message(STRANGER, "what is 2+2?", first_name="Mallory")
    wait(lambda: len(tg.messages_to(STRANGER)) == 3, what="the first answer")
    assert tg.messages_to(STRANGER)[2] == "echo: what is 2+2?"
    assert model.user_messages() == ["what is 2+2?"]
    audit = start.cli("audit", "list", "--json")
    assert audit.returncode == 0, audit.stderr
    assert '"pairing.approve"' in audit.stdout and f"telegram:{STRANGER}" in audit.stdout


def test_a_paired_user_can_use_start_help_reset_and_status_and_photos_are_declined(
    start: Starter, tg: FakeTelegram, model: FakeOpenAI
) -> None:
    allowed = start.cli("pairing", "allow", "--platform", "telegram", "--user-id", str(FRIEND))
    assert allowed.returncode == 0, allowed.stderr
    start.configure(dm_policy="pairing")
    start()

    def say(text: str) -> str:
        count = len(tg.messages_to(FRIEND))
        tg.push_message(FRIEND, text)
        wait(lambda: len(tg.messages_to(FRIEND)) > count, what=f"the answer to {text!r}")
        return tg.messages_to(FRIEND)[-1]

    assert "/reset" in say("/start") and "/status" in say("/help")
    assert say("first question") == "echo: first question"
    status = say("/status")
    assert status.startswith("assistant-cli ") and "providers: fake" in status
    assert say("/reset").startswith("Done — I forgot this conversation")
    assert say("second question") == "echo: second question"
    count = len(tg.messages_to(FRIEND))
    tg.push_photo(FRIEND, caption="what is this?")
    wait(lambda: len(tg.messages_to(FRIEND)) > count, what="the reply to a photo")
    assert "only read text" in tg.messages_to(FRIEND)[-1]
    assert model.user_messages() == ["first question", "second question"]
    # /reset emptied the history: the second request carries no trace of the first.
    assert "first question" not in json.dumps(model.requests[-1].messages)


def test_a_conflict_with_another_poller_is_reported_and_retried_with_backoff(
    start: Starter, tg: FakeTelegram
) -> None:
    serve = start()
    stop_other = threading.Event()

    def other_poller() -> None:
        # Another program with our token: each of its getUpdates ends ours with a 409.
        while not stop_other.is_set():
            http("POST", f"{tg.base_url}{tg.token}/getUpdates", {"timeout": 1})

    thread = threading.Thread(target=other_poller, daemon=True)
    thread.start()
    try:
        waits = re.compile(r"another program is receiving updates for this Telegram bot token "
                           r".* — retrying in ([\d.]+) s")
        wait(lambda: len(waits.findall(serve.output)) >= 2, what="two reported conflicts")
        first, second = (float(s) for s in waits.findall(serve.output)[:2])
        assert 1.0 <= first < second  # backing off, not hammering
        status, ready = http("GET", serve.gateway + "/readyz")
        assert (status, ready["channels"]) == (503, {"telegram": False})
        report = asyncio.run(gateway_status(serve.gateway, serve.dashboard_token))
        assert "another program" in report["channels"]["telegram"]["last_error"]
    finally:
        stop_other.set()
        thread.join(5)
    wait(lambda: http("GET", serve.gateway + "/readyz")[0] == 200, what="ready again")
    tg.push_message(4001, "after the conflict")
    wait(lambda: tg.messages_to(4001), what="an answer after the conflict")
    assert tg.messages_to(4001) == ["echo: after the conflict"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_webhook_mode_registers_the_secret_and_stores_only_authentic_updates(
    start: Starter, tg: FakeTelegram, model: FakeOpenAI, isolated_home: Path
) -> None:
    port = free_port()
    hook = f"http://127.0.0.1:{port}/webhooks/telegram"
    start.configure(gateway_port=port, telegram=(
        f"    mode: webhook\n    webhook_url: {hook}\n    webhook_secret: env:TG_HOOK\n"))
    serve = start()
    assert serve.gateway == f"http://127.0.0.1:{port}"
    registered = tg.webhook()
    assert registered is not None
    assert (registered["url"], registered["secret_token"]) == (hook, HOOK_SECRET)

    tg.push_message(5001, "via the webhook")
    [update] = tg.pop_updates()
    for secret in ("not-the-secret", HOOK_SECRET[:-1], ""):
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
        assert http("POST", hook, update, headers)[0] == 401
    assert http("POST", hook, [1, 2], {"X-Telegram-Bot-Api-Secret-Token": HOOK_SECRET})[0] == 400
    assert inbox_rows(isolated_home) == []
    assert tg.messages_to(5001) == [] and model.requests == []

    good = {"X-Telegram-Bot-Api-Secret-Token": HOOK_SECRET}
    assert http("POST", hook, update, good) == (200, {"ok": True})
    wait(lambda: tg.messages_to(5001), what="the answer")
    assert http("POST", hook, update, good)[0] == 200  # Telegram retrying: stored once
    wait(lambda: [r[1] for r in inbox_rows(isolated_home)] == ["done"], what="done")
    assert tg.messages_to(5001) == ["echo: via the webhook"]
    assert model.user_messages() == ["via the webhook"]
    assert serve.terminate() == 0, serve.output[-2000:]


GROUP = -1_001_730_000_999
OPEN_GROUP = -1_001_730_000_888


def test_in_a_group_only_allowed_senders_reach_the_model_unless_members_any(
    start: Starter, tg: FakeTelegram, model: FakeOpenAI, isolated_home: Path
) -> None:
    allowed = start.cli("pairing", "allow", "--platform", "telegram", "--user-id", str(FRIEND))
    assert allowed.returncode == 0, allowed.stderr
    start.configure(dm_policy="pairing", telegram=(
        f"    groups: {{enabled: true, allow: ['{GROUP}', "
        f"{{id: '{OPEN_GROUP}', members: any}}]}}\n"))
    start()
    tg.push_message(GROUP, "@test_bot stranger asks", user_id=STRANGER, chat_type="supergroup")
    tg.push_message(GROUP, "@test_bot friend asks", user_id=FRIEND, chat_type="supergroup")
    tg.push_message(OPEN_GROUP, "@test_bot anyone asks", user_id=STRANGER,
                    chat_type="supergroup")
    wait(lambda: len(inbox_rows(isolated_home)) == 3
         and all(r[1] == "done" for r in inbox_rows(isolated_home)), what="all three handled")
    assert sorted(model.user_messages()) == ["anyone asks", "friend asks"]  # mention removed
    assert tg.messages_to(GROUP) == ["echo: friend asks"]
    assert tg.messages_to(STRANGER) == []  # no pairing prompt either
