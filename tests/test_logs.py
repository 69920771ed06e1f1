"""Tests for JSON-lines logging, redaction, the log reader and the `logs` command."""

from __future__ import annotations

import json
import logging
import os
import re
import stat
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from assistant_cli.cli.logs import logs
from assistant_cli.errors import UsageError
from assistant_cli.observability import logview
from assistant_cli.observability.logs import (
    PrivateRotatingFileHandler,
    Redactor,
    _utc_ts,
    get_redactor,
    log_event,
    register_secret,
    setup_logging,
    teardown_logging,
)
from assistant_cli.observability.logview import (
    LogFilter,
    LogRecord,
    format_record,
    parse_line,
    parse_since,
    tail,
)

TG_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawq"
POSIX_ONLY = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")


@pytest.fixture(autouse=True)
def _clean_logging() -> Iterator[None]:
    logger = logging.getLogger("assistant_cli")
    old_level = logger.level
    yield
    teardown_logging()
    get_redactor().clear()
    logger.setLevel(old_level)


def read_records(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# --- redaction -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"https://api.telegram.org/bot{TG_TOKEN}/getMe", "https://api.telegram.org/bot***/getMe"),
        (f"token is {TG_TOKEN}.", "token is ***."),
        ("Authorization: Bearer abc.def-123", "Authorization: Bearer ***"),
        ("bearer xyz", "bearer ***"),
        ("key sk-proj-abcdefghijklmnop1234 used", "key *** used"),
        ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl end", "jwt *** end"),
        ("GET /x?api_key=abc123&page=2", "GET /x?api_key=***&page=2"),
        ("GET /x?page=2&token=abc#frag", "GET /x?page=2&token=***#frag"),
        ("/cb?access_token=a.b.c", "/cb?access_token=***"),
        ("/cb?secret=s3&key=k", "/cb?secret=***&key=***"),
        ("nothing to see here: sk-short, 12345:abc", "nothing to see here: sk-short, 12345:abc"),
    ],
)
def test_pattern_redaction(text: str, expected: str) -> None:
    assert Redactor().redact(text) == expected


def test_registered_secrets_and_minimum_length() -> None:
    r = Redactor()
    r.register_secret("hunter2-password")
    r.register_secret("hunter2-password-longer")  # contains the first: masked whole
    r.register_secret("abc")  # too short to mask safely
    assert r.redact("a hunter2-password-longer b hunter2-password c abc") == "a *** b *** c abc"
    r.clear()
    assert r.redact("hunter2-password") == "hunter2-password"


def test_redact_value_recurses_and_masks_sensitive_keys() -> None:
    r = Redactor()
    r.register_secret("my-private-value")
    value = {
        "headers": {"Authorization": "Basic Zm9v", "X-Other": "my-private-value"},
        "items": ["ok", "x my-private-value y", 3],
        "bot_token": "anything",
        "db_password": "pw",
        "client_secret": None,
        "OPENAI_API_KEY": "x",
        "prompt_tokens": 42,
        "count": 7,
    }
    assert r.redact_value(value) == {
        "headers": {"Authorization": "***", "X-Other": "***"},
        "items": ["ok", "x *** y", 3],
        "bot_token": "***",
        "db_password": "***",
        "client_secret": None,
        "OPENAI_API_KEY": "***",
        "prompt_tokens": 42,
        "count": 7,
    }


def test_file_output_redacts_msg_fields_and_exception(tmp_path: Path) -> None:
    log_file = tmp_path / "logs" / "a.jsonl"
    setup_logging(log_file)
    register_secret("s3cr3t-value-xyz")
    logger = logging.getLogger("assistant_cli.test")
    logger.info(
        "calling https://api.telegram.org/bot%s/getMe with s3cr3t-value-xyz",
        TG_TOKEN,
        extra={"event": "channel.call", "fields": {"note": "s3cr3t-value-xyz", "token": "t"}},
    )
    try:
        raise RuntimeError(f"failed with s3cr3t-value-xyz and Bearer {TG_TOKEN}")
    except RuntimeError:
        logger.exception("request failed")
    text = log_file.read_text(encoding="utf-8")
    assert "s3cr3t-value-xyz" not in text
    assert TG_TOKEN not in text
    first, second = read_records(log_file)
    assert first["msg"] == "calling https://api.telegram.org/bot***/getMe with ***"
    assert first["note"] == "***" and first["token"] == "***"
    assert second["level"] == "ERROR"
    exc = str(second["exc"])
    assert "Traceback" in exc and "RuntimeError: failed with *** and Bearer ***" in exc


# --- record shape and handler setup -----------------------------------------------------


def test_json_shape_and_key_order(tmp_path: Path) -> None:
    log_file = tmp_path / "a.jsonl"
    setup_logging(log_file, level="DEBUG")
    logger = logging.getLogger("assistant_cli.providers")
    logger.info(
        "got reply",
        extra={
            "event": "provider.response",
            "fields": {"status": 200, "latency_ms": 12.3, "channel": "telegram", "msg": "x"},
        },
    )
    log_event(logger, logging.DEBUG, "engine.turn", "turn done", turns=3)
    logger.warning("plain")
    a, b, c = read_records(log_file)
    # A field named like a fixed key is renamed rather than overwriting it.
    assert list(a) == [
        "ts",
        "level",
        "logger",
        "event",
        "msg",
        "status",
        "latency_ms",
        "channel",
        "msg_",
    ]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", str(a["ts"]))
    assert (a["level"], a["logger"]) == ("INFO", "assistant_cli.providers")
    assert (a["event"], a["msg"]) == ("provider.response", "got reply")
    assert (a["status"], a["latency_ms"], a["channel"], a["msg_"]) == (200, 12.3, "telegram", "x")
    assert (b["level"], b["event"], b["msg"]) == ("DEBUG", "engine.turn", "turn done")
    assert b["turns"] == 3
    assert (c["level"], c["event"]) == ("WARNING", "log")


def test_setup_is_idempotent_and_levels_apply(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log_file = tmp_path / "a.jsonl"
    setup_logging(log_file, level="WARNING", console_level="INFO")
    setup_logging(log_file, level="WARNING", console_level="INFO")
    logger = logging.getLogger("assistant_cli.x")
    handlers = logging.getLogger("assistant_cli").handlers
    owned = [h for h in handlers if hasattr(h, "_assistant_cli_owned")]
    assert len(owned) == 2
    logger.info("info line", extra={"event": "x.info", "fields": {"api_key": "k"}})
    logger.warning("warn line")
    assert [r["msg"] for r in read_records(log_file)] == ["warn line"]
    err = capsys.readouterr().err
    assert "x.info: info line" in err and "api_key=***" in err and "warn line" in err
    assert err.count("warn line") == 1


def test_bad_level_name_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown log level"):
        setup_logging(tmp_path / "a.jsonl", level="LOUD")


@POSIX_ONLY
def test_rotation_creates_private_files(tmp_path: Path) -> None:
    log_file = tmp_path / "new" / "logs" / "a.jsonl"
    setup_logging(log_file, max_bytes=600, backups=3)
    logger = logging.getLogger("assistant_cli.rot")
    for i in range(60):
        log_event(logger, logging.INFO, "rot.test", f"record {i}", i=i)
    files = [log_file, *(log_file.with_name(f"a.jsonl.{k}") for k in (1, 2, 3))]
    assert all(f.exists() for f in files)
    assert not log_file.with_name("a.jsonl.4").exists()
    for f in files:
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
    assert stat.S_IMODE(log_file.parent.stat().st_mode) == 0o700


@POSIX_ONLY
def test_existing_loose_file_is_tightened(tmp_path: Path) -> None:
    log_file = tmp_path / "a.jsonl"
    log_file.write_text("")
    os.chmod(log_file, 0o644)
    setup_logging(log_file)
    assert stat.S_IMODE(log_file.stat().st_mode) == 0o600


# --- parsing ------------------------------------------------------------------------------


def test_parse_line_json_raw_and_blank() -> None:
    rec = parse_line(
        '{"ts": "2024-05-01T12:00:00.250Z", "level": "warning", "logger": "a",'
        ' "event": "e.x", "msg": "hi", "channel": "telegram"}\n'
    )
    assert rec is not None
    assert rec.ts == datetime(2024, 5, 1, 12, 0, 0, 250000, tzinfo=timezone.utc)
    assert (rec.level, rec.logger, rec.event, rec.msg) == ("WARNING", "a", "e.x", "hi")
    assert rec.fields == {"channel": "telegram"}
    raw = parse_line("Traceback (most recent call last):")
    assert raw is not None and (raw.level, raw.event, raw.msg) == ("INFO", "raw", raw.raw)
    assert parse_line("   \n") is None
    assert parse_line("[1, 2]") is not None


NOW = datetime(2024, 5, 10, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", NOW - timedelta(seconds=30)),
        ("10m", NOW - timedelta(minutes=10)),
        ("2h", NOW - timedelta(hours=2)),
        ("1d", NOW - timedelta(days=1)),
        ("1W", NOW - timedelta(weeks=1)),
        # Without an offset: local time, as `logs` and `audit list` print it.
        ("2024-05-01", datetime(2024, 5, 1).astimezone()),
        ("2024-05-01T08:30", datetime(2024, 5, 1, 8, 30).astimezone()),
        ("2024-05-01T08:30:00Z", datetime(2024, 5, 1, 8, 30, tzinfo=timezone.utc)),
        ("2024-05-01T10:30:00+02:00", datetime(2024, 5, 1, 8, 30, tzinfo=timezone.utc)),
    ],
)
def test_parse_since_forms(text: str, expected: datetime) -> None:
    assert parse_since(text, now=NOW) == expected


@pytest.mark.parametrize("text", ["", "ten minutes", "10y", "2024-13-01", "-5m",
                                  "99999999d"])
def test_parse_since_errors_name_input_and_forms(text: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_since(text, now=NOW)
    assert repr(text) in str(info.value)
    assert "30s, 10m, 2h, 1d or 1w" in str(info.value) and "ISO" in str(info.value)


# --- filtering and tail -------------------------------------------------------------------


def make(level: str = "INFO", msg: str = "m", ts: datetime = NOW, **fields: object) -> LogRecord:
    return LogRecord(
        ts, level, "assistant_cli.t", "e.v", msg, dict(fields), json.dumps({"msg": msg})
    )


def test_filters() -> None:
    assert LogFilter().matches(make())
    assert not LogFilter(min_level="warning").matches(make("INFO"))
    assert LogFilter(min_level="WARNING").matches(make("ERROR"))
    since = LogFilter(since=NOW - timedelta(minutes=5))
    assert since.matches(make(ts=NOW)) and not since.matches(make(ts=NOW - timedelta(hours=1)))
    assert not since.matches(LogRecord(logview.UNKNOWN_TS, "INFO", "", "raw", "x", {}, "x"))
    grep = LogFilter(grep=r"time(out)?|RATE")
    assert grep.matches(make(msg="Request Timeout")) and grep.matches(make(msg="rate limited"))
    assert not grep.matches(make(msg="fine"))
    assert LogFilter(grep="status=503").matches(make(status=503))
    chan = LogFilter(channel="telegram")
    assert chan.matches(make(channel="Telegram")) and not chan.matches(make(channel="slack"))
    assert not chan.matches(make())


def test_filter_rejects_bad_regex_and_level() -> None:
    with pytest.raises(UsageError, match="not a valid regular expression"):
        LogFilter(grep="(unclosed")
    with pytest.raises(UsageError, match="unknown log level"):
        LogFilter(min_level="loud")


def write_rotated(log_file: Path, total: int, per_file: int) -> None:
    """Files as RotatingFileHandler leaves them: the oldest records in the highest suffix."""
    chunks = [range(i, min(i + per_file, total)) for i in range(0, total, per_file)]
    for age, chunk in enumerate(reversed(chunks)):
        path = log_file if age == 0 else log_file.with_name(f"{log_file.name}.{age}")
        lines = [
            json.dumps(
                {
                    "ts": "2024-05-01T00:00:00.000Z",
                    "level": "ERROR" if i % 5 == 0 else "INFO",
                    "logger": "a",
                    "event": "e",
                    "msg": f"record {i}",
                    "i": i,
                }
            )
            for i in chunk
        ]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_tail_reads_across_rotated_files(tmp_path: Path) -> None:
    log_file = tmp_path / "a.jsonl"
    write_rotated(log_file, total=35, per_file=10)  # current holds 30..34
    got = tail(log_file, 15, LogFilter())
    assert [r.fields["i"] for r in got] == list(range(20, 35))
    errors = tail(log_file, 100, LogFilter(min_level="error"))
    assert [r.fields["i"] for r in errors] == [0, 5, 10, 15, 20, 25, 30]
    assert tail(log_file, 0, LogFilter()) == []


def test_tail_since_stops_at_older_records(tmp_path: Path) -> None:
    log_file = tmp_path / "a.jsonl"
    old = json.dumps({"ts": "2024-05-01T00:00:00Z", "msg": "old"})
    new = json.dumps({"ts": "2024-05-10T11:59:00Z", "msg": "new"})
    log_file.with_name("a.jsonl.1").write_text("this rotated file is never needed\n")
    log_file.write_text(f"{old}\n{new}\n{new}\n")
    got = tail(log_file, 10, LogFilter(since=NOW - timedelta(minutes=5)))
    assert [r.msg for r in got] == ["new", "new"]


class CountingFormatter(logging.Formatter):
    calls = 0

    def format(self, record: logging.LogRecord) -> str:
        self.calls += 1
        return super().format(record)


def test_each_record_is_formatted_once_and_rotation_still_happens(tmp_path: Path) -> None:
    handler = PrivateRotatingFileHandler(tmp_path / "a.jsonl", maxBytes=200, backupCount=2)
    formatter = CountingFormatter()
    handler.setFormatter(formatter)
    logger = logging.Logger("counting")
    logger.addHandler(handler)
    for i in range(20):
        logger.info("record %d %s", i, "x" * 20)
    handler.close()
    assert formatter.calls == 20  # the stdlib check formats each record a second time
    assert (tmp_path / "a.jsonl.2").exists()
    assert (tmp_path / "a.jsonl").stat().st_size < 200 + 40


def test_tail_with_real_handler_rotation(tmp_path: Path) -> None:
    log_file = tmp_path / "a.jsonl"
    setup_logging(log_file, max_bytes=1000, backups=10)
    logger = logging.getLogger("assistant_cli.tail")
    for i in range(40):
        log_event(logger, logging.INFO, "t.rec", f"record {i}", i=i)
    assert log_file.with_name("a.jsonl.2").exists()
    assert [r.fields["i"] for r in tail(log_file, 25, LogFilter())] == list(range(15, 40))


def test_reverse_lines_small_blocks_and_multibyte(tmp_path: Path) -> None:
    path = tmp_path / "f"
    lines = [f"línea {i} ✓ " + "x" * (i % 7) for i in range(50)]
    path.write_text("\n".join(lines) + "\n\n", encoding="utf-8")
    for block in (1, 3, 7, 64):
        assert list(logview._reverse_lines(path, block_size=block)) == lines[::-1]


def test_format_record() -> None:
    line = {
        "ts": "2024-05-01T12:00:00.250Z",
        "level": "WARNING",
        "logger": "a",
        "event": "provider.retry",
        "msg": "slow down",
        "status": 429,
        "note": "two words",
        "exc": "Traceback...",
    }
    rec = parse_line(json.dumps(line))
    assert rec is not None
    local = rec.ts.astimezone()
    text = format_record(rec, today=local.date())
    assert text.plain.startswith(f"{local:%H:%M:%S}.250 WARNING provider.retry slow down")
    assert 'status=429 note="two words"' in text.plain
    assert text.plain.endswith("\nTraceback...")
    assert any(span.style == "yellow" for span in text.spans)


def test_records_from_another_day_show_their_date() -> None:
    rec = parse_line(json.dumps({"ts": "2024-05-01T12:00:00.250Z", "msg": "m"}))
    assert rec is not None
    local = rec.ts.astimezone()
    text = format_record(rec, today=local.date() + timedelta(days=1))
    assert text.plain.startswith(f"{local:%Y-%m-%d %H:%M:%S}.250 INFO")


# --- the CLI command ------------------------------------------------------------------------


def make_app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """Test root."""

    app.command("logs")(logs)
    return app


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ASSISTANT_CLI_HOME", str(tmp_path))
    return tmp_path


def test_cli_missing_log_file(home: Path) -> None:
    result = CliRunner().invoke(make_app(), ["logs"])
    assert result.exit_code == 1
    assert "assistant-cli.jsonl" in result.stderr and "assistant-cli serve" in result.stderr


def test_cli_shows_filters_and_json(home: Path) -> None:
    log_file = home / "state" / "logs" / "assistant-cli.jsonl"
    log_file.parent.mkdir(parents=True)
    write_rotated(log_file, total=12, per_file=20)
    app = make_app()
    result = CliRunner().invoke(app, ["logs", "-n", "3"])
    assert result.exit_code == 0, result.output
    shown = [line.split("record ")[1].split()[0] for line in result.stdout.splitlines()]
    assert shown == ["9", "10", "11"]
    result = CliRunner().invoke(app, ["logs", "--json", "--level", "ERROR", "--grep", "record 1"])
    assert result.exit_code == 0, result.output
    assert [r["i"] for r in json.loads(result.stdout)["records"]] == [10]


@pytest.mark.parametrize("args", [["--since", "soon"], ["--level", "loud"], ["--grep", "[oops"]])
def test_cli_bad_input_raises_usage_error(home: Path, args: list[str]) -> None:
    result = CliRunner().invoke(make_app(), ["logs", *args])
    assert isinstance(result.exception, UsageError)
    assert result.exception.exit_code == 2


def test_cli_ctrl_c_during_follow_exits_quietly(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log_file = home / "state" / "logs" / "assistant-cli.jsonl"
    log_file.parent.mkdir(parents=True)
    log_file.write_text("")

    def interrupted(*args: object, **kwargs: object) -> Iterator[LogRecord]:
        raise KeyboardInterrupt
        yield  # pragma: no cover

    monkeypatch.setattr(logview, "follow", interrupted)
    result = CliRunner().invoke(make_app(), ["logs", "-f"])
    assert result.exit_code == 0
    assert result.output == ""


def test_timestamps_match_datetime_to_the_millisecond() -> None:
    edges = [1742007834.8499994, 1700000000.0, 1700000000.9999996, 1700000001.0004999]
    for created in edges + [1.7e9 + i * 0.1234567 for i in range(2000)]:
        expected = datetime.fromtimestamp(created, tz=timezone.utc).isoformat(
            timespec="milliseconds").replace("+00:00", "Z")
        assert _utc_ts(created) == expected, created
