"""Three `serve` replicas on one PostgreSQL database behind the fake Telegram in webhook
mode: 1,000 messages spread across them, one replica kill -9'd mid-load → every message
answered exactly once (counted per text in the fake's sendMessage calls).

The victim is killed while each of its workers waits on the model (its own fake model
stops answering first): its claims must be taken over when their lease runs out, and no
message may be lost or answered twice. A kill in the instant between Telegram accepting a
reply and the commit that records it sent cannot be told apart from "not sent" (Telegram
has no idempotency key), so that answer would be sent again: docs/ARCHITECTURE.md.
"""

from __future__ import annotations

import itertools
import os
import signal
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.doctor_support import free_port
from tests.e2e.replicas.harness import (
    inbox_status,
    sends_per_text,
    start_replica,
    state_yaml,
    webhook_yaml,
)
from tests.e2e.telegram_harness import (
    HOOK_SECRET,
    Serve,
    Starter,
    child_env,
    http,
    wait,
    write_config,
)
from tests.fakes.openai_server import FakeOpenAI, Hang
from tests.fakes.telegram_server import FakeTelegram

pytestmark = pytest.mark.e2e

GOOD = {"X-Telegram-Bot-Api-Secret-Token": HOOK_SECRET}
MESSAGES = 1000
CHATS = 100  # ten messages per conversation: their order is kept across replicas
WORKERS = 4


def deliverer(hooks: list[str], dead: set[str]) -> Any:
    """Like Telegram behind nginx: post an update, retry on another replica until one
    answers 200 (a refused or dropped call is retried, never lost)."""
    counter = itertools.count()

    def deliver(update: dict[str, Any]) -> int:
        first = next(counter)
        for attempt in range(60):
            hook = hooks[(first + attempt) % len(hooks)]
            if hook in dead:
                continue
            try:
                status = http("POST", hook, update, GOOD)[0]
            except OSError:
                status = 0
            if status == 200:
                return attempt
            time.sleep(0.05)
        raise AssertionError(f"update {update['update_id']} never accepted")

    return deliver


def answered(tg: FakeTelegram) -> int:
    return len({c.get("text") for c in tg.calls("sendMessage")})


def start_victim(start: Starter, tg: FakeTelegram, model: FakeOpenAI,
                 pg_url: str) -> tuple[Serve, str]:
    """A replica with a home and a model of its own (the same database and bot)."""
    home = start.home.parent / "victim-home"
    write_config(home, tg, model, telegram=webhook_yaml(),
                 extra=state_yaml(pg_url) + f"assistant:\n  workers: {WORKERS}\n")
    port = free_port()
    proc = Serve(home, child_env(home, tg.token, model), ("--port", str(port), "--replica", "r1"))
    start.started.append(proc)
    proc.wait_ready()
    return proc, f"http://127.0.0.1:{port}/webhooks/telegram"


def test_three_replicas_1000_messages_one_killed_none_lost_none_doubled(
    start: Starter, tg: FakeTelegram, pg_url: str
) -> None:
    start.configure(telegram=webhook_yaml(), extra=state_yaml(pg_url))
    with FakeOpenAI() as victim_model:
        run_1000(start, tg, pg_url, victim_model)


def run_1000(start: Starter, tg: FakeTelegram, pg_url: str, victim_model: FakeOpenAI) -> None:
    replicas = [start_replica(start, "r0"), start_victim(start, tg, victim_model, pg_url),
                start_replica(start, "r2")]
    hooks = [hook for _, hook in replicas]
    for i in range(MESSAGES):
        tg.push_message(10_000 + i % CHATS, f"m{i}")
    updates = tg.pop_updates()
    dead: set[str] = set()
    deliver = deliverer(hooks, dead)
    victim, victim_hook = replicas[1]

    def kill_mid_load() -> None:
        wait(lambda: answered(tg) >= MESSAGES // 4, timeout=60, what="a quarter answered")
        asked = len(victim_model.requests)
        victim_model.enqueue(*[Hang()] * MESSAGES)  # its turns now wait on the model ...
        assert victim_model.wait_for_requests(asked + WORKERS, timeout=20)  # ... all of them
        dead.add(victim_hook)
        os.kill(victim.proc.pid, signal.SIGKILL)

    killer = threading.Thread(target=kill_mid_load)
    killer.start()
    started = time.monotonic()
    with ThreadPoolExecutor(12) as pool:
        list(pool.map(deliver, updates))
    killer.join()
    assert victim.proc.wait(5) == -signal.SIGKILL
    wait(lambda: answered(tg) >= MESSAGES, timeout=60, what="all 1,000 answered")
    time.sleep(1.0)  # a doubled answer would show now
    elapsed = time.monotonic() - started
    sends = sends_per_text(tg.calls("sendMessage"))
    expected = {f"echo: m{i}" for i in range(MESSAGES)}
    assert set(sends) == expected, sorted(expected - set(sends))[:5]  # 0 lost
    doubled = {text: n for text, n in sends.items() if n > 1}
    assert doubled == {}, doubled  # 0 doubled
    for chat in range(10_000, 10_000 + CHATS):  # per conversation, in the order sent
        texts = tg.messages_to(chat)
        assert texts == sorted(texts, key=lambda t: int(t.removeprefix("echo: m"))), texts
    assert inbox_status(pg_url) == {"done": MESSAGES}
    survivors = [hook for hook in hooks if hook not in dead]
    for update in updates[:20]:  # Telegram delivering again, to each living replica
        assert [http("POST", hook, update, GOOD)[0] for hook in survivors] == [200, 200]
    time.sleep(1.0)
    assert inbox_status(pg_url) == {"done": MESSAGES}  # stored once across replicas
    assert sends_per_text(tg.calls("sendMessage")) == sends  # and not answered again
    for proc, _ in (replicas[0], replicas[2]):
        assert proc.terminate() == 0, proc.output[-2000:]
    print(f"\n1,000 messages over 3 replicas (one killed) in {elapsed:.1f} s")


def test_an_intake_replica_stores_and_a_worker_replica_answers(
    start: Starter, tg: FakeTelegram, pg_url: str
) -> None:
    start.configure(telegram=webhook_yaml(), extra=state_yaml(pg_url))
    intake, hook = start_replica(start, "in", "--role", "intake")
    for i in range(50):
        tg.push_message(20_000 + i % 5, f"w{i}")
    updates = tg.pop_updates()
    deliver = deliverer([hook], set())
    for update in updates:
        deliver(update)
    assert inbox_status(pg_url) == {"queued": 50}  # stored, nothing answered by intake
    assert tg.calls("sendMessage") == []
    worker, worker_hook = start_replica(start, "out", "--role", "worker")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(urllib.request.Request(worker_hook, data=b"{}", method="POST"),
                               timeout=10)
    assert refused.value.code == 404  # a worker replica receives nothing
    wait(lambda: inbox_status(pg_url) == {"done": 50}, timeout=30, what="all answered")
    sends = sends_per_text(tg.calls("sendMessage"))
    assert sends == {f"echo: w{i}": 1 for i in range(50)}
    for proc in (intake, worker):
        assert proc.terminate() == 0, proc.output[-2000:]
