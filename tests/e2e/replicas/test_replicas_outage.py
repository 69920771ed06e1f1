"""The PostgreSQL state going away: unreachable at start → a clear error and exit 2; gone at
run time → webhooks answered 503 (nothing acknowledged that is not stored), /readyz not
ready, workers paused; back → the retried update is stored and answered once. Split roles
are refused on the SQLite file."""

from __future__ import annotations

import subprocess
import time
from urllib.parse import urlsplit

import pytest

from tests.conftest import cli_command
from tests.doctor_support import free_port
from tests.e2e.replicas.harness import inbox_status, start_replica, state_yaml, webhook_yaml
from tests.e2e.telegram_harness import HOOK_SECRET, Starter, http, wait
from tests.fakes.telegram_server import FakeTelegram
from tests.pg_proxy import PgProxy

pytestmark = pytest.mark.e2e

GOOD = {"X-Telegram-Bot-Api-Secret-Token": HOOK_SECRET}


def run_serve(start: Starter, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*cli_command(), "serve", *args], capture_output=True, text=True,
                          env={**start.env, "PGPASS": "hunter2-secret"},
                          stdin=subprocess.DEVNULL, timeout=60, cwd=start.home)


def test_an_unreachable_database_at_start_is_named_and_exits_2(start: Starter) -> None:
    url = f"postgresql://assistant@127.0.0.1:{free_port()}/assistant"
    start.configure(extra=state_yaml(url) + "  password: env:PGPASS\n")
    done = run_serve(start)
    assert done.returncode == 2, done.stderr
    assert "127.0.0.1" in done.stderr and "assistant" in done.stderr
    assert "hunter2-secret" not in done.stderr + done.stdout
    assert "Traceback" not in done.stderr


def test_split_roles_need_the_postgresql_state(start: Starter) -> None:
    done = run_serve(start, "--role", "worker")
    assert done.returncode == 2
    assert "--role worker needs the shared PostgreSQL state (state.url)" in done.stderr
    assert "Traceback" not in done.stderr
    bad = run_serve(start, "--role", "boss")
    assert bad.returncode == 2 and "unknown role" in bad.stderr


def test_database_gone_webhooks_get_503_and_work_resumes_when_it_is_back(
    start: Starter, tg: FakeTelegram, pg_url: str, proxy: PgProxy
) -> None:
    database = urlsplit(pg_url).path.lstrip("/")
    start.configure(telegram=webhook_yaml(), extra=state_yaml(proxy.url(database)))
    replica, hook = start_replica(start, "solo")
    ready = hook.replace("/webhooks/telegram", "/readyz")
    tg.push_message(7001, "stored before")
    tg.push_message(7002, "while away")
    before, during = tg.pop_updates()
    assert http("POST", hook, before, GOOD)[0] == 200
    wait(lambda: inbox_status(pg_url) == {"done": 1}, what="the first answer recorded sent")

    proxy.cut()
    statuses = [http("POST", hook, during, GOOD)[0] for _ in range(3)]  # Telegram retries
    assert statuses == [503, 503, 503]
    wait(lambda: http("GET", ready)[0] == 503, what="/readyz not ready while it is away")
    assert "database unavailable" in str(http("GET", ready)[1])
    assert replica.proc.poll() is None  # serve lives on

    proxy.restore()
    wait(lambda: http("POST", hook, during, GOOD)[0] == 200, timeout=20,
         what="the retried update stored once the database is back")
    wait(lambda: tg.messages_to(7002) == ["echo: while away"], timeout=20,
         what="workers answering again")
    wait(lambda: http("GET", ready)[0] == 200, what="ready again")
    wait(lambda: inbox_status(pg_url) == {"done": 2}, what="the second answer recorded sent")
    assert tg.messages_to(7001) == ["echo: stored before"]
    assert replica.terminate() == 0, replica.output[-2000:]


def test_database_gone_the_poller_confirms_nothing_until_it_is_back(
    start: Starter, tg: FakeTelegram, pg_url: str, proxy: PgProxy
) -> None:
    database = urlsplit(pg_url).path.lstrip("/")
    start.configure(extra=state_yaml(proxy.url(database)))
    replica, _ = start_replica(start, "poller")
    tg.push_message(7101, "before")
    wait(lambda: inbox_status(pg_url) == {"done": 1}, what="the first answer recorded sent")
    proxy.cut()
    update_id = tg.push_message(7102, "while away")
    time.sleep(3)  # several polls: each hands the update over, none may confirm it
    assert tg.confirmed_offset <= update_id
    assert tg.pending_updates() >= 1
    proxy.restore()
    wait(lambda: tg.messages_to(7102) == ["echo: while away"], timeout=20,
         what="the update stored and answered once the database is back")
    wait(lambda: tg.confirmed_offset > update_id, what="confirmed once stored")
    wait(lambda: inbox_status(pg_url) == {"done": 2}, what="both recorded sent")
    assert tg.messages_to(7101) == ["echo: before"]
    assert replica.terminate() == 0, replica.output[-2000:]
