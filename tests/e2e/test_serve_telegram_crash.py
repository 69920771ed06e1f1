"""kill -9 of `serve` around the group commit of a getUpdates batch (and of webhook calls):
every update is answered once, whether the process died before the batch was on disk or
right after."""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.doctor_support import free_port
from tests.e2e.telegram_harness import HOOK_SECRET, Serve, Starter, http, inbox_rows, wait
from tests.fakes.openai_server import FakeOpenAI, Hang
from tests.fakes.telegram_server import FakeTelegram
from tests.state_lock import write_lock

pytestmark = pytest.mark.e2e

CHATS = (4001, 4002, 4003)


def answered_get_updates(tg: FakeTelegram) -> int:
    return sum(1 for c in tg.log if c.method.lower() == "getupdates" and c.status == 200)


def kill_9(serve: Serve) -> None:
    os.kill(serve.proc.pid, signal.SIGKILL)
    assert serve.proc.wait(5) == -signal.SIGKILL


def each_answered_once(tg: FakeTelegram, serve: Serve) -> None:
    wait(lambda: all(tg.messages_to(c) for c in CHATS), what="every answer after the restart")
    time.sleep(0.5)  # a duplicate would show up now
    assert [tg.messages_to(c) for c in CHATS] == [[f"echo: hi {c}"] for c in CHATS]
    assert serve.terminate() == 0, serve.output[-2000:]
    assert tg.pending_updates() == 0


# serve runs on uvloop when it is installed (the `fast` extra, in the dev set) and on
# asyncio's own loop otherwise: durability must not depend on which.
LOOPS = pytest.mark.parametrize("event_loop_kind", ["default", "asyncio"])


@LOOPS
def test_killed_after_receiving_a_batch_before_its_commit(
    start: Starter, tg: FakeTelegram, isolated_home: Path, event_loop_kind: str
) -> None:
    if event_loop_kind == "asyncio":
        start.env["ASSISTANT_CLI_EVENT_LOOP"] = "asyncio"
    first = start()
    with write_lock(isolated_home / "state" / "state.db"):  # a slow disk, in effect
        before = answered_get_updates(tg)
        with tg.together():
            ids = [tg.push_message(c, f"hi {c}") for c in CHATS]
        wait(lambda: answered_get_updates(tg) > before, what="the batch handed to serve")
        time.sleep(0.3)  # serve has it and waits for the disk
        assert inbox_rows(isolated_home) == []  # not stored ...
        assert tg.confirmed_offset <= ids[0]  # ... so not confirmed either
        kill_9(first)
    each_answered_once(tg, start())


@LOOPS
def test_killed_right_after_the_commit_before_telegram_heard_of_it(
    start: Starter, tg: FakeTelegram, model: FakeOpenAI, isolated_home: Path,
    event_loop_kind: str
) -> None:
    if event_loop_kind == "asyncio":
        start.env["ASSISTANT_CLI_EVENT_LOOP"] = "asyncio"
    for _ in CHATS:  # the first run's model calls hang: the turns are in flight at the kill
        model.enqueue(Hang())
    first = start()
    tg.hold_confirmations(above=tg.confirmed_offset)
    with tg.together():  # one batch: a split one would wait for its held confirmation
        ids = [tg.push_message(c, f"hi {c}") for c in CHATS]
    wait(lambda: len(inbox_rows(isolated_home)) == len(CHATS), what="the batch committed")
    assert model.wait_for_requests(len(CHATS), timeout=10)
    assert tg.confirmed_offset <= ids[0]  # Telegram still holds the batch
    kill_9(first)
    tg.hold_confirmations(None)
    second = start()  # gets the same batch again: stored once, each answered once
    each_answered_once(tg, second)
    assert [row[0] for row in inbox_rows(isolated_home)] == [
        f"{tg.bot_user()['id']}:{i}" for i in ids]


def test_webhook_calls_waiting_for_their_commit_get_no_200_when_serve_dies(
    start: Starter, tg: FakeTelegram, isolated_home: Path
) -> None:
    port = free_port()
    hook = f"http://127.0.0.1:{port}/webhooks/telegram"
    start.configure(gateway_port=port, telegram=(
        f"    mode: webhook\n    webhook_url: {hook}\n    webhook_secret: env:TG_HOOK\n"))
    first = start()
    for chat in CHATS:
        tg.push_message(chat, f"hi {chat}")
    updates = tg.pop_updates()
    good = {"X-Telegram-Bot-Api-Secret-Token": HOOK_SECRET}

    def deliver(update: dict[str, object]) -> object:
        try:
            return http("POST", hook, update, good)[0]
        except OSError as exc:  # the connection died with serve
            return type(exc).__name__

    with write_lock(isolated_home / "state" / "state.db"), \
            ThreadPoolExecutor(len(updates)) as pool:
        calls = [pool.submit(deliver, u) for u in updates]
        time.sleep(0.5)
        assert not any(c.done() for c in calls)  # waiting for the disk, not acknowledged
        assert inbox_rows(isolated_home) == []
        kill_9(first)
        answers = [c.result(timeout=10) for c in calls]
    assert 200 not in answers, answers  # Telegram keeps them and retries

    second = start()
    assert [deliver(u) for u in updates] == [200] * len(updates)  # the retries
    each_answered_once(tg, second)
