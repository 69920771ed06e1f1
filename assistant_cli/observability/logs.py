"""Logging setup for the `assistant_cli` logger: JSON-lines file, stderr console, redaction."""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import logging.handlers
import os
import re
import stat
import sys
import threading
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from io import TextIOWrapper
from pathlib import Path
from typing import Any

from assistant_cli.errors import StateError
from assistant_cli.paths import ensure_dir

ROOT_LOGGER = "assistant_cli"
MASK = "***"
RESERVED_KEYS = ("ts", "level", "logger", "event", "msg")
SENSITIVE_KEY_PARTS = ("token", "secret", "password", "api_key", "authorization")
_MIN_SECRET_LEN = 6

# Each pattern keeps a non-secret prefix in group 1 (or none) so the replacement can
# leave context such as "Bearer " or "?api_key=" readable. Inline flags are scoped so
# the patterns can also be joined into one cheap "anything to do?" pre-check.
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\d{6,}:[A-Za-z0-9_-]{30,}"), MASK),  # Telegram bot token
    (re.compile(r"(?i:(\bBearer\s+))[^\s\"',;]+"), rf"\1{MASK}"),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"), MASK),
    (re.compile(r"\beyJ[\w-]+\.[\w-]+\.[\w-]+"), MASK),  # JWT
    (
        re.compile(r"(?i:([?&;](?:\w*_)?(?:token|key|apikey|secret|password)=))[^&#\s\"']+"),
        rf"\1{MASK}",
    ),
)
_ANY_PATTERN = re.compile("|".join(p.pattern for p, _ in _PATTERNS))


@functools.lru_cache(maxsize=1024)  # a few dozen field names, asked about on every record
def _is_sensitive_key(key: str) -> bool:
    # "prompt_tokens", "max_tokens" ... are usage counts, not credentials.
    lowered = key.lower().replace("tokens", "")
    return any(part in lowered for part in SENSITIVE_KEY_PARTS)


class Redactor:
    """Masks registered secret values and well-known credential shapes in log text."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._secret_re: re.Pattern[str] | None = None

    def register_secret(self, value: str) -> None:
        """Mask `value` wherever it appears from now on (values shorter than 6 are ignored)."""
        value = value.strip()
        if len(value) < _MIN_SECRET_LEN:
            return
        with self._lock:
            if value in self._secrets:
                return
            self._secrets.add(value)
            self._rebuild()

    def clear(self) -> None:
        """Forget every registered secret (pattern-based masking stays on)."""
        with self._lock:
            self._secrets.clear()
            self._rebuild()

    def _rebuild(self) -> None:
        if not self._secrets:
            self._secret_re = None
            return
        # Longest first so a secret that contains another is masked whole.
        ordered = sorted(self._secrets, key=len, reverse=True)
        self._secret_re = re.compile("|".join(re.escape(s) for s in ordered))

    def redact(self, text: str) -> str:
        """Return `text` with every known secret and credential pattern replaced by ***."""
        secret_re = self._secret_re  # read once: a concurrent register swaps the reference
        if secret_re is not None:
            text = secret_re.sub(MASK, text)
        if _ANY_PATTERN.search(text) is None:
            return text
        for pattern, repl in _PATTERNS:
            text = pattern.sub(repl, text)
        return text

    def redact_value(self, value: object, key: str | None = None) -> object:
        """Redact a JSON-able value recursively; sensitive keys lose their whole value."""
        if key is not None and _is_sensitive_key(key) and value is not None:
            return MASK
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, bool | int | float) or value is None:
            return value
        if isinstance(value, Mapping):
            return {str(k): self.redact_value(v, str(k)) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [self.redact_value(v) for v in value]
        # Anything else is logged by its text, which may itself embed a secret.
        return self.redact(str(value))


_REDACTOR = Redactor()


def get_redactor() -> Redactor:
    """The process-wide redactor every formatter here uses."""
    return _REDACTOR


def register_secret(value: str) -> None:
    """Mask `value` in every log line written from now on."""
    _REDACTOR.register_secret(value)


_second: tuple[int, str] = (-1, "")  # the last whole second formatted, and its text


def _utc_ts(created: float) -> str:
    """`2026-01-02T03:04:05.678Z`: ISO 8601 in UTC, milliseconds truncated; the part up to
    the second is formatted once per second."""
    global _second
    whole = int(created)
    micros = round((created - whole) * 1_000_000)  # as datetime rounds a timestamp
    if micros >= 1_000_000:
        whole, micros = whole + 1, micros - 1_000_000
    if _second[0] != whole:
        text = datetime.fromtimestamp(whole, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
        _second = (whole, text)
    return f"{_second[1]}.{micros // 1000:03d}Z"


def _record_fields(record: logging.LogRecord) -> Mapping[str, object]:
    fields = getattr(record, "fields", None)
    if fields is None:
        return {}
    if isinstance(fields, Mapping):
        return {str(k): v for k, v in fields.items()}
    return {"fields": fields}


def _exception_text(formatter: logging.Formatter, record: logging.LogRecord) -> str | None:
    parts: list[str] = []
    if record.exc_info:
        parts.append(formatter.formatException(record.exc_info))
    elif record.exc_text:
        parts.append(record.exc_text)
    if record.stack_info:
        parts.append(formatter.formatStack(record.stack_info))
    return "\n".join(parts) if parts else None


_JSON = json.JSONEncoder(ensure_ascii=False, default=str)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ts, level, logger, event, msg, then the extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        redactor = _REDACTOR
        out: dict[str, Any] = {
            "ts": _utc_ts(record.created),
            "level": record.levelname,
            "logger": record.name,
            "event": str(getattr(record, "event", None) or "log"),
            "msg": redactor.redact(record.getMessage()),
        }
        for key, value in _record_fields(record).items():
            # A field may not overwrite the fixed keys readers rely on.
            name = f"{key}_" if key in RESERVED_KEYS else key
            out[name] = redactor.redact_value(value, key)
        exc = _exception_text(self, record)
        if exc is not None:
            out["exc"] = redactor.redact(exc)
        return _JSON.encode(out)


class ConsoleFormatter(logging.Formatter):
    """Human-readable one-liners for stderr, redacted like the file output.

    Without `tracebacks` (serve without --debug) an exception adds its type and message
    to the line, not the traceback: the JSON log file keeps that.
    """

    def __init__(self, *, tracebacks: bool = True) -> None:
        super().__init__()
        self.tracebacks = tracebacks

    def format(self, record: logging.LogRecord) -> str:
        redactor = _REDACTOR
        when = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        event = str(getattr(record, "event", None) or "log")
        line = f"{when} {record.levelname:<7} {event}: {redactor.redact(record.getMessage())}"
        extras = [
            f"{key}={redactor.redact_value(value, key)}"
            for key, value in _record_fields(record).items()
        ]
        if extras:
            line += "  " + " ".join(extras)
        if not self.tracebacks:
            exc_value = record.exc_info[1] if record.exc_info else None
            if exc_value is not None:
                line += redactor.redact(f" — {type(exc_value).__name__}: {exc_value}")
            return line
        exc = _exception_text(self, record)
        if exc is not None:
            line += "\n" + redactor.redact(exc)
        return line


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A RotatingFileHandler whose files (including those opened at rollover) are mode 0600.

    A write that fails (a full disk) is reported on stderr in one line at most once a
    minute, instead of logging's "--- Logging error ---" block with a traceback per record;
    writing resumes by itself when the disk has room again.
    """

    report_every = 60.0
    _reported_at: float | None = None
    _dropped = 0

    def handleError(self, record: logging.LogRecord) -> None:
        now = time.monotonic()
        if self._reported_at is not None and now - self._reported_at < self.report_every:
            self._dropped += 1
            return
        exc = sys.exc_info()[1]
        reason = (exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)) \
            or type(exc).__name__
        dropped = f"; {self._dropped} more records dropped since" if self._dropped else ""
        self._reported_at, self._dropped = now, 0
        with contextlib.suppress(Exception):
            sys.stderr.write(f"warning: cannot write the log file {self.baseFilename}: "
                             f"{reason}{dropped}; records are dropped until it works again "
                             "(said at most once a minute)\n")
            sys.stderr.flush()

    def flush(self) -> None:
        try:
            super().flush()
        except OSError:
            self.handleError(logging.makeLogRecord({}))

    def close(self) -> None:
        # Buffered records that cannot be written (full disk) are lost either way; closing
        # must not raise at shutdown because of them.
        with contextlib.suppress(OSError):
            super().close()

    _regular = True  # only a regular file is rolled over (not /dev/null, say)

    def _open(self) -> TextIOWrapper:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        if hasattr(os, "fchmod"):
            # The file may predate us with looser permissions; logs can hold user text.
            os.fchmod(fd, 0o600)
        self._regular = stat.S_ISREG(os.fstat(fd).st_mode)
        return open(fd, "a", encoding=self.encoding or "utf-8", errors=self.errors)

    def shouldRollover(self, record: logging.LogRecord) -> bool:
        """Roll over once the file has reached maxBytes.

        The standard check formats every record a second time and stats the file twice, per
        record: under load that was 60 % of serve's logging cost. Here a file may pass
        maxBytes by its last line.
        """
        if self.stream is None:
            self.stream = self._open()
        return self.maxBytes > 0 and self._regular and self.stream.tell() >= self.maxBytes


_OWNED_ATTR = "_assistant_cli_owned"


def _level_number(name: str) -> int:
    number = logging.getLevelName(name.upper())
    if not isinstance(number, int):
        raise ValueError(f"unknown log level {name!r}; use DEBUG, INFO, WARNING, ERROR or CRITICAL")
    return number


def teardown_logging() -> None:
    """Detach and close the handlers setup_logging attached."""
    logger = logging.getLogger(ROOT_LOGGER)
    for handler in list(logger.handlers):
        if getattr(handler, _OWNED_ATTR, False):
            logger.removeHandler(handler)
            handler.close()


def setup_logging(
    log_file: Path,
    *,
    level: str = "INFO",
    max_bytes: int = 5_000_000,
    backups: int = 5,
    console_level: str | None = None,
    console_tracebacks: bool = False,
) -> None:
    """Send `assistant_cli.*` records to a rotating JSON-lines file (and optionally stderr).

    Calling it again replaces the handlers of the previous call rather than adding more.
    """
    file_level = _level_number(level)
    stderr_level = _level_number(console_level) if console_level is not None else None

    teardown_logging()
    log_file = Path(log_file)
    ensure_dir(log_file.parent)

    logger = logging.getLogger(ROOT_LOGGER)
    try:
        file_handler = PrivateRotatingFileHandler(
            log_file, maxBytes=max_bytes, backupCount=backups, encoding="utf-8"
        )
    except OSError as exc:
        raise StateError(
            f"cannot open the log file {log_file}: {exc.strerror or exc}",
            hint=f"make sure {log_file} is a writable file (move aside whatever is there), "
            "or set ASSISTANT_CLI_HOME to another directory",
        ) from None
    file_handler.setLevel(file_level)
    file_handler.setFormatter(JsonFormatter())
    setattr(file_handler, _OWNED_ATTR, True)
    logger.addHandler(file_handler)

    effective = file_level
    if stderr_level is not None:
        console_handler = logging.StreamHandler(sys.stderr)
        console_handler.setLevel(stderr_level)
        console_handler.setFormatter(ConsoleFormatter(tracebacks=console_tracebacks))
        setattr(console_handler, _OWNED_ATTR, True)
        logger.addHandler(console_handler)
        effective = min(effective, stderr_level)
    logger.setLevel(effective)
    # No formatter here uses a record's file, line, function, thread or process: skip
    # collecting them for every record (the optimisations the logging documentation lists).
    logging._srcfile = None  # type: ignore[attr-defined]
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False


def log_event(
    logger: logging.Logger, level: int, event: str, msg: str = "", **fields: object
) -> None:
    """Log `msg` under the dotted `event` id with `fields` as extra JSON keys."""
    # stacklevel=2 attributes the record to our caller, not to this wrapper.
    logger.log(level, msg, extra={"event": event, "fields": fields}, stacklevel=2)
