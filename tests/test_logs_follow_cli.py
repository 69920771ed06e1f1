"""`assistant-cli logs --follow` as a user runs it: started before serve, across rotations."""

from __future__ import annotations

import json
import logging
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant_cli.observability.logs import log_event, setup_logging, teardown_logging
from tests.conftest import cli_command, subprocess_env

TIMEOUT = 10.0


@pytest.fixture
def follower(isolated_home: Path) -> Iterator[tuple[subprocess.Popen[str], queue.Queue[str]]]:
    proc = subprocess.Popen([*cli_command(), "logs", "--follow", "-n", "0", "--json"],
                            env=subprocess_env(isolated_home), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    try:
        yield proc, lines
    finally:
        teardown_logging()
        if proc.poll() is None:
            proc.kill()
        proc.wait(TIMEOUT)


def take(lines: queue.Queue[str], count: int) -> list[dict[str, object]]:
    got: list[dict[str, object]] = []
    deadline = time.monotonic() + TIMEOUT
    while len(got) < count and time.monotonic() < deadline:
        try:
            got.append(json.loads(lines.get(timeout=max(0.01, deadline - time.monotonic()))))
        except queue.Empty:
            break
    return got


def test_follow_waits_for_the_log_and_keeps_up_across_rotations(
        isolated_home: Path, follower: tuple[subprocess.Popen[str], queue.Queue[str]]) -> None:
    proc, lines = follower
    assert proc.stderr is not None
    assert "waiting for" in proc.stderr.readline()  # started before any log exists
    log_file = isolated_home / "state" / "logs" / "assistant-cli.jsonl"
    setup_logging(log_file, max_bytes=1500, backups=20)
    logger = logging.getLogger("assistant_cli.test")
    seen: list[object] = []
    for start in range(0, 32, 4):
        for i in range(start, start + 4):
            log_event(logger, logging.INFO, "test.rec", f"record {i}", i=i)
        # Each batch is seen before the next is written: a file created and rotated away
        # within one poll interval could not be seen by any tailer.
        seen += [rec["i"] for rec in take(lines, 4)]
    assert seen == list(range(32))
    assert log_file.with_name("assistant-cli.jsonl.2").exists()  # really rotated, twice
    proc.send_signal(signal.SIGINT)
    assert proc.wait(TIMEOUT) == 0
