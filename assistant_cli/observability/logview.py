"""Reading JSON-lines logs back: parsing, filtering, tailing rotated files, following, display."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from rich.text import Text

from assistant_cli.errors import UsageError

UNKNOWN_TS = datetime(1970, 1, 1, tzinfo=timezone.utc)
"""The timestamp given to lines that carry none (plain text, foreign JSON)."""

LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "WARN": 30, "ERROR": 40, "CRITICAL": 50}
_BASE_KEYS = frozenset({"ts", "level", "logger", "event", "msg"})
_BLOCK_SIZE = 64 * 1024
_SINCE_FORMS = "a duration such as 30s, 10m, 2h, 1d or 1w, or an ISO time such as 2024-05-01T12:00"
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_LEVEL_STYLES = {
    "DEBUG": "dim",
    "INFO": "green",
    "WARNING": "yellow",
    "ERROR": "bold red",
    "CRITICAL": "bold white on red",
}


@dataclass(frozen=True)
class LogRecord:
    """One line of the log, parsed."""

    ts: datetime
    level: str
    logger: str
    event: str
    msg: str
    fields: dict[str, Any] = field(default_factory=dict)
    raw: str = ""


def _parse_ts(value: object) -> datetime:
    if not isinstance(value, str):
        return UNKNOWN_TS
    try:
        # fromisoformat accepts a trailing "Z" only from Python 3.11 on.
        ts = datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)
    except ValueError:
        return UNKNOWN_TS
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=timezone.utc)


def parse_line(line: str) -> LogRecord | None:
    """Parse one log line; blank lines give None, non-JSON lines a level-INFO "raw" record."""
    raw = line.rstrip("\r\n")
    if not raw.strip():
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return LogRecord(UNKNOWN_TS, "INFO", "", "raw", raw, {}, raw)
    return LogRecord(
        ts=_parse_ts(data.get("ts")),
        level=str(data.get("level") or "INFO").upper(),
        logger=str(data.get("logger") or ""),
        event=str(data.get("event") or "log"),
        msg=str(data.get("msg") or ""),
        fields={k: v for k, v in data.items() if k not in _BASE_KEYS},
        raw=raw,
    )


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """Turn `10m`-style durations or ISO dates/times into an aware datetime.

    A time without an offset is local time, like the times `logs` and `audit list` print,
    so that a time copied from their output selects what it shows.
    """
    now = now if now is not None else datetime.now(timezone.utc)
    match = _DURATION.match(text)
    if match:
        amount, unit = int(match.group(1)), match.group(2).lower()
        try:
            return now - timedelta(seconds=amount * _UNIT_SECONDS[unit])
        except OverflowError:
            raise UsageError(f"--since {text!r} reaches back before the year 1",
                             hint=f"use {_SINCE_FORMS}") from None
    stripped = text.strip()
    iso = stripped[:-1] + "+00:00" if stripped[-1:] in ("Z", "z") else stripped
    try:
        parsed = datetime.fromisoformat(iso)
    except ValueError:
        try:
            parsed = datetime.combine(date.fromisoformat(iso), datetime.min.time())
        except ValueError:
            raise UsageError(
                f"--since {text!r} is neither a duration nor an ISO date/time",
                hint=f"use {_SINCE_FORMS}",
            ) from None
    return parsed if parsed.tzinfo is not None else parsed.astimezone()


def level_number(name: str) -> int:
    """The numeric severity of a level name; raises UsageError for unknown names."""
    try:
        return LEVELS[name.strip().upper()]
    except KeyError:
        raise UsageError(
            f"unknown log level {name!r}", hint="use one of debug, info, warning, error"
        ) from None


def _plain(rec: LogRecord) -> str:
    extras = " ".join(f"{k}={_show(v)}" for k, v in rec.fields.items())
    return f"{rec.level} {rec.logger} {rec.event} {rec.msg} {extras}"


@dataclass
class LogFilter:
    """Which records to show; every criterion left as None matches everything."""

    min_level: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    grep: str | None = None
    channel: str | None = None
    _min: int = field(init=False, repr=False, default=0)
    _grep_re: re.Pattern[str] | None = field(init=False, repr=False, default=None)

    def __post_init__(self) -> None:
        self._min = level_number(self.min_level) if self.min_level else 0
        if self.grep is not None:
            try:
                self._grep_re = re.compile(self.grep, re.IGNORECASE)
            except re.error as exc:
                raise UsageError(
                    f"--grep {self.grep!r} is not a valid regular expression: {exc}",
                    hint="escape special characters such as ( [ * + ? with a backslash",
                ) from None

    def matches(self, rec: LogRecord) -> bool:
        if self._min and LEVELS.get(rec.level, LEVELS["INFO"]) < self._min:
            return False
        # A record with no known time cannot be shown to be recent, so --since drops it.
        if self.since is not None and (rec.ts == UNKNOWN_TS or rec.ts < self.since):
            return False
        if self.until is not None and (rec.ts == UNKNOWN_TS or rec.ts >= self.until):
            return False
        if self.channel is not None:
            value = rec.fields.get("channel")
            if value is None or str(value).casefold() != self.channel.casefold():
                return False
        if self._grep_re is not None:
            return bool(self._grep_re.search(rec.raw) or self._grep_re.search(_plain(rec)))
        return True


def _reverse_lines(path: Path, block_size: int = _BLOCK_SIZE) -> Iterator[str]:
    """Yield the lines of `path` last first, reading backwards a block at a time."""
    with path.open("rb") as fh:
        pos = fh.seek(0, os.SEEK_END)
        pending = b""
        while pos > 0:
            step = min(block_size, pos)
            pos -= step
            fh.seek(pos)
            pieces = (fh.read(step) + pending).split(b"\n")
            # The first piece may continue in the previous block; keep it for later.
            pending = pieces[0]
            for piece in reversed(pieces[1:]):
                if piece.strip():
                    yield piece.decode("utf-8", errors="replace")
        if pending.strip():
            yield pending.decode("utf-8", errors="replace")


def _log_files(log_file: Path) -> Iterator[Path]:
    """The current file then its rotated predecessors, newest first."""
    yield log_file
    index = 1
    while True:
        rotated = log_file.with_name(f"{log_file.name}.{index}")
        if not rotated.exists():
            return
        yield rotated
        index += 1


def tail(log_file: Path, n: int, flt: LogFilter) -> list[LogRecord]:
    """The last `n` records matching `flt`, oldest first, looking into rotated files as needed."""
    if n <= 0:
        return []
    found: list[LogRecord] = []
    for path in _log_files(log_file):
        try:
            for line in _reverse_lines(path):
                rec = parse_line(line)
                if rec is None:
                    continue
                if flt.since is not None and UNKNOWN_TS < rec.ts < flt.since:
                    # Records only get older from here on, so stop reading.
                    return found[::-1]
                if flt.matches(rec):
                    found.append(rec)
                    if len(found) >= n:
                        return found[::-1]
        except FileNotFoundError:
            # Rotated away between listing and opening; the next name holds it now.
            continue
    return found[::-1]


def _identity(st: os.stat_result) -> tuple[int, int]:
    return (st.st_dev, st.st_ino)


def follow(
    log_file: Path,
    flt: LogFilter,
    *,
    poll_interval: float = 0.25,
    stop: Callable[[], bool] | None = None,
) -> Iterator[LogRecord]:
    """Yield records matching `flt` appended after this call, across rotations, until stop().

    The current end of the file is noted now (not at first iteration), so nothing written
    after the call returns is missed. A missing file is waited for and read from its start.
    """
    try:
        st = os.stat(log_file)
        start: tuple[tuple[int, int], int] | None = (_identity(st), st.st_size)
    except FileNotFoundError:
        start = None
    return _follow(Path(log_file), flt, start, poll_interval, stop or (lambda: False))


def _follow(
    log_file: Path,
    flt: LogFilter,
    start: tuple[tuple[int, int], int] | None,
    poll_interval: float,
    stop: Callable[[], bool],
) -> Iterator[LogRecord]:
    fh = None
    ident: tuple[int, int] | None = None
    pending = b""

    def emit(data: bytes, final: bool) -> Iterator[LogRecord]:
        nonlocal pending
        lines = (pending + data).split(b"\n")
        # An unterminated last line may still be being written, unless the file is done.
        pending = b"" if final else lines.pop()
        for line in lines:
            rec = parse_line(line.decode("utf-8", errors="replace"))
            if rec is not None and flt.matches(rec):
                yield rec

    try:
        while not stop():
            if fh is None:
                try:
                    fh = log_file.open("rb")
                except FileNotFoundError:
                    time.sleep(poll_interval)
                    continue
                ident = _identity(os.fstat(fh.fileno()))
                if start is not None and start[0] == ident:
                    fh.seek(start[1])
                start = None
            data = fh.read()
            if data:
                yield from emit(data, final=False)
                continue
            try:
                current = os.stat(log_file)
            except FileNotFoundError:
                # Mid-rotation: renamed but not yet recreated. Keep the old file for now.
                time.sleep(poll_interval)
                continue
            if _identity(current) != ident:
                # Replaced: finish whatever reached the old file before the rename.
                yield from emit(fh.read(), final=True)
                fh.close()
                fh = None
            elif current.st_size < fh.tell():
                fh.seek(0)  # truncated in place
                pending = b""
            else:
                time.sleep(poll_interval)
    finally:
        if fh is not None:
            fh.close()


def _show(value: object) -> str:
    if isinstance(value, str):
        return value if value and not any(c.isspace() for c in value) else json.dumps(value)
    return json.dumps(value, ensure_ascii=False, default=str)


def format_record(rec: LogRecord, today: date | None = None) -> Text:
    """A coloured one-liner: local time, level, event, message, dimmed key=value.

    The time is HH:MM:SS.mmm, preceded by the date for records from another day than
    `today` (local), so that `--since 2d` output says which day each line is from.
    """
    text = Text()
    if rec.ts == UNKNOWN_TS:
        text.append("--:--:--.---", style="dim")
    else:
        local = rec.ts.astimezone()
        day = "" if local.date() == (today or date.today()) else local.strftime("%Y-%m-%d ")
        text.append(day + local.strftime("%H:%M:%S.") + f"{local.microsecond // 1000:03d}",
                    style="dim")
    text.append(" ")
    text.append(f"{rec.level:<7}", style=_LEVEL_STYLES.get(rec.level, ""))
    text.append(" ")
    if rec.event != "raw":
        text.append(rec.event, style="cyan")
        text.append(" ")
    text.append(rec.msg)
    exc = None
    for key, value in rec.fields.items():
        if key == "exc" and isinstance(value, str):
            exc = value
            continue
        text.append(f" {key}={_show(value)}", style="dim")
    if exc:
        text.append("\n" + exc.rstrip("\n"), style="red")
    return text
