"""Telegram polling with two replicas on one PostgreSQL database: exactly one polls (the
holder of the advisory lock); when it is kill -9'd the other takes over within 10 s and
answers, and nothing is answered twice."""

from __future__ import annotations

import os
import signal
import time

import pytest

from tests.e2e.replicas.harness import inbox_status, poll_leader, start_replica, state_yaml
from tests.e2e.telegram_harness import Starter, wait
from tests.fakes.telegram_server import FakeTelegram

pytestmark = pytest.mark.e2e


def test_one_replica_polls_and_another_takes_over_when_it_is_killed(
    start: Starter, tg: FakeTelegram, pg_url: str
) -> None:
    start.configure(extra=state_yaml(pg_url))
    replicas = {name: start_replica(start, name)[0] for name in ("a", "b")}
    wait(lambda: poll_leader(pg_url) in replicas, what="a polling leader")
    first = str(poll_leader(pg_url))
    tg.push_message(5001, "before")
    wait(lambda: tg.messages_to(5001) == ["echo: before"], what="the leader's answer")
    assert poll_leader(pg_url) == first  # one leader throughout, no flapping

    os.kill(replicas[first].proc.pid, signal.SIGKILL)
    assert replicas[first].proc.wait(5) == -signal.SIGKILL
    killed_at = time.monotonic()
    tg.push_message(5002, "after")
    wait(lambda: tg.messages_to(5002) == ["echo: after"], timeout=10,
         what="an answer from the replica that took over")
    took = time.monotonic() - killed_at
    other = next(name for name in replicas if name != first)
    assert poll_leader(pg_url) == other
    time.sleep(0.5)  # a second answer would show now
    assert tg.messages_to(5001) == ["echo: before"]
    assert tg.messages_to(5002) == ["echo: after"]
    assert inbox_status(pg_url) == {"done": 2}
    assert replicas[other].terminate() == 0, replicas[other].output[-2000:]
    print(f"\ntook over and answered {took:.1f} s after the kill")
