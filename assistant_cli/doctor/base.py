"""What a doctor check is (id, title, detect, optional fix) and what it can see (DoctorContext).

A check's `detect` never changes anything; only `fix`, run with `--fix` for results marked
`fixable`, may. Blocking work (files, SQLite, the keyring, DNS) runs in `in_thread`, whose
daemon threads can be abandoned when a check times out: a hung keyring or file system must
never keep `doctor` from printing its report and exiting.

config.loader (pydantic, PyYAML) is imported inside functions: commands that only need
`quiet_logging` or `in_thread` from here never load a config.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from assistant_cli.errors import ConfigError
from assistant_cli.observability.logs import ConsoleFormatter
from assistant_cli.paths import Paths
from assistant_cli.secrets.store import SecretStore

if TYPE_CHECKING:
    from assistant_cli.config.loader import Document
    from assistant_cli.config.models import Config

T = TypeVar("T")
Status = Literal["ok", "warn", "fail", "skipped"]
STATUS_ORDER: dict[str, int] = {"ok": 0, "skipped": 0, "warn": 1, "fail": 2}


@dataclass(frozen=True)
class Result:
    """What a check found and, unless all is well, how to fix it."""

    status: Status
    found: str
    fix: str = ""
    fixable: bool = False  # `doctor --fix` can repair this itself
    data: dict[str, Any] = field(default_factory=dict)  # details for --json


def ok(found: str, **data: Any) -> Result:
    return Result("ok", found, data=data)


def warn(found: str, fix: str, *, fixable: bool = False, **data: Any) -> Result:
    return Result("warn", found, fix, fixable, data)


def fail(found: str, fix: str, *, fixable: bool = False, **data: Any) -> Result:
    return Result("fail", found, fix, fixable, data)


def skipped(found: str) -> Result:
    return Result("skipped", found)


class Skip(Exception):
    """Raised inside detect() when the check cannot apply (e.g. the config did not load)."""


Detect = Callable[["DoctorContext"], Awaitable[Result]]
Fix = Callable[["DoctorContext"], Awaitable[list[str]]]


@dataclass(frozen=True)
class Check:
    """One check. `network` checks are skipped with --offline; `fix` returns what it changed."""

    id: str
    title: str
    detect: Detect
    fix: Fix | None = None
    network: bool = False
    timeout: float | None = None  # seconds; None means the run's --timeout
    on_timeout: str = ""  # the fix to suggest when detect() does not finish in time


async def in_thread(fn: Callable[..., T], *args: Any) -> T:
    """Run blocking `fn(*args)` in a daemon thread; cancelling the await abandons the thread."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(value: Any, exc: BaseException | None) -> None:
        if future.done():
            return  # timed out and cancelled meanwhile
        if exc is not None:
            future.set_exception(exc)
        else:
            future.set_result(value)

    def work() -> None:
        try:
            value, exc = fn(*args), None
        except BaseException as err:
            value, exc = None, err
        # RuntimeError: the report was printed and the loop closed while we were stuck.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(settle, value, exc)

    threading.Thread(target=work, name="doctor-check", daemon=True).start()
    return await future


def quiet_logging(debug: bool = False) -> None:
    """Keep the clients' own log records (e.g. a failed getMe) out of the report.

    The probes already say what they found; without a handler, Python would print their
    warnings bare on stderr. With --debug they are shown, formatted, on stderr instead.
    """
    logger = logging.getLogger("assistant_cli")
    if logger.handlers:
        return  # someone (a test, serve) already decided where records go
    if not debug:
        logger.addHandler(logging.NullHandler())
        return

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(ConsoleFormatter())
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)


class DoctorContext:
    """Everything checks share: paths, options, and the config and keyring loaded once."""

    def __init__(self, paths: Paths, *, offline: bool = False, timeout: float = 5.0) -> None:
        self.paths = paths
        self.offline = offline
        self.timeout = timeout
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._memo: dict[str, tuple[Any, BaseException | None]] = {}
        self._tasks: dict[str, asyncio.Task[Any]] = {}

    def memo(self, key: str, fn: Callable[[], T]) -> T:
        """`fn()` computed once per run (from any thread); an exception is remembered too."""
        if key not in self._memo:
            with self._guard:
                lock = self._locks.setdefault(key, threading.Lock())
            with lock:
                if key not in self._memo:
                    try:
                        self._memo[key] = (fn(), None)
                    except Exception as exc:
                        self._memo[key] = (None, exc)
        value, error = self._memo[key]
        if error is not None:
            raise error
        return value  # type: ignore[no-any-return]

    def give_up(self, key: str, exc: Exception) -> None:
        """Settle `key` as failed, e.g. after its computation hung: later callers get `exc`
        at once instead of waiting on the stuck thread's lock."""
        self._memo.setdefault(key, (None, exc))

    async def once(self, key: str, make: Callable[[], Awaitable[T]]) -> T:
        """An async computation shared by several checks (e.g. one Telegram getMe)."""
        task = self._tasks.get(key)
        if task is None:
            task = asyncio.ensure_future(make())
            self._tasks[key] = task
        # shield: one check timing out must not cancel the work another check awaits.
        return await asyncio.shield(task)

    def document(self) -> Document:
        """The parsed config file (raises ConfigError when missing or not YAML)."""
        from assistant_cli.config.loader import read_document

        return self.memo("document", lambda: read_document(self.paths.config_file))

    def load_config(self) -> Config:
        """The validated config (raises ConfigError)."""
        from assistant_cli.config.loader import validate_document

        return self.memo("config", lambda: validate_document(
            self.document(), self.paths.config_file.name))

    def config(self) -> Config:
        """The validated config, or Skip when it does not load (config.valid reports why)."""
        try:
            return self.load_config()
        except ConfigError:
            raise Skip("needs a valid config.yaml (see config.valid)") from None

    def store(self) -> SecretStore:
        """The secret store; doctor only reads through it (never `.db`, which would migrate)."""
        return self.memo("store", lambda: SecretStore(self.paths))

    def resolve(self, ref: str, key: str) -> str:
        """Resolve a secret reference (blocking: call it through in_thread)."""
        return self.store().resolve(ref, key=key)

    def cancel_shared(self) -> None:
        for task in self._tasks.values():
            task.cancel()
