"""Tests for `follow`: new lines, late-created files, truncation and real handler rotation."""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant_cli.observability.logs import (
    get_redactor,
    log_event,
    setup_logging,
    teardown_logging,
)
from assistant_cli.observability.logview import LogFilter, LogRecord, follow

TIMEOUT = 5.0


@pytest.fixture(autouse=True)
def _clean_logging() -> Iterator[None]:
    logger = logging.getLogger("assistant_cli")
    old_level = logger.level
    yield
    teardown_logging()
    get_redactor().clear()
    logger.setLevel(old_level)


class Follower:
    """Runs follow() in a daemon thread; a deadline in stop() means it can never hang."""

    def __init__(self, log_file: Path, flt: LogFilter | None = None) -> None:
        self.records: queue.Queue[LogRecord] = queue.Queue()
        self._done = threading.Event()
        deadline = time.monotonic() + TIMEOUT

        def stop() -> bool:
            return self._done.is_set() or time.monotonic() > deadline

        # follow() is called here, in the test thread, so its starting point is fixed now.
        self._iter = follow(log_file, flt or LogFilter(), poll_interval=0.01, stop=stop)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        for rec in self._iter:
            self.records.put(rec)

    def take(self, count: int) -> list[LogRecord]:
        got: list[LogRecord] = []
        deadline = time.monotonic() + TIMEOUT
        while len(got) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                got.append(self.records.get(timeout=remaining))
            except queue.Empty:
                break
        return got

    def close(self) -> None:
        self._done.set()
        self._thread.join(timeout=TIMEOUT)
        assert not self._thread.is_alive()


def line(i: int, level: str = "INFO") -> str:
    return json.dumps({"ts": "2024-05-01T00:00:00.000Z", "level": level, "msg": f"m{i}", "i": i})


def append(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as fh:
        fh.write(text)


def test_follow_yields_only_appended_lines(tmp_path: Path) -> None:
    log_file = tmp_path / "a.jsonl"
    log_file.write_text(line(0) + "\n")
    f = Follower(log_file)
    try:
        append(log_file, line(1) + "\n" + line(2))
        time.sleep(0.05)  # the unterminated line must wait for its newline
        append(log_file, "\nnot json\n")
        got = f.take(3)
    finally:
        f.close()
    assert [r.msg for r in got] == ["m1", "m2", "not json"]
    assert got[2].event == "raw"


def test_follow_waits_for_missing_file_and_filters(tmp_path: Path) -> None:
    log_file = tmp_path / "later.jsonl"
    f = Follower(log_file, LogFilter(min_level="warning"))
    try:
        time.sleep(0.05)
        log_file.write_text(line(1) + "\n" + line(2, "ERROR") + "\n" + line(3, "WARNING") + "\n")
        got = f.take(2)
    finally:
        f.close()
    assert [r.msg for r in got] == ["m2", "m3"]


def test_follow_restarts_after_truncation(tmp_path: Path) -> None:
    log_file = tmp_path / "a.jsonl"
    log_file.write_text(line(0) * 3 + "\n")
    f = Follower(log_file)
    try:
        append(log_file, line(1) + "\n")
        assert [r.msg for r in f.take(1)] == ["m1"]
        log_file.write_text("")
        time.sleep(0.05)
        append(log_file, line(2) + "\n")
        got = f.take(1)
    finally:
        f.close()
    assert [r.msg for r in got] == ["m2"]


def test_follow_stops_when_asked(tmp_path: Path) -> None:
    started = time.monotonic()
    records = list(follow(tmp_path / "none", LogFilter(), poll_interval=0.01, stop=lambda: True))
    assert records == []
    calls = iter([False, False, True])
    assert (
        list(follow(tmp_path / "none", LogFilter(), poll_interval=0.01, stop=lambda: next(calls)))
        == []
    )
    assert time.monotonic() - started < 1


def test_follow_continues_across_real_rotation(tmp_path: Path) -> None:
    log_file = tmp_path / "logs" / "a.jsonl"
    # About ten records fit in 1500 bytes, so a batch of four crosses at most one rollover.
    setup_logging(log_file, max_bytes=1500, backups=20)
    logger = logging.getLogger("assistant_cli.follow")
    log_event(logger, logging.INFO, "before", "written before following")
    f = Follower(log_file)
    got: list[LogRecord] = []
    try:
        for start in range(0, 60, 4):
            # No waiting inside a batch: records can land in the old file after the poller
            # read it and before the handler renames it, which must still be delivered.
            for i in range(start, start + 4):
                log_event(logger, logging.INFO, "follow.rec", f"record {i}", i=i)
            # Waiting between batches keeps it deterministic: a file created and rotated
            # away again within one poll could not be seen by any tailer.
            got += f.take(4)
    finally:
        f.close()
    assert log_file.with_name("a.jsonl.4").exists()  # several rollovers really happened
    assert [r.fields["i"] for r in got] == list(range(60))
    assert all(r.event == "follow.rec" for r in got)
