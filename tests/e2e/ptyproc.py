"""A pseudo-terminal driver for `assistant-cli serve` in end-to-end tests."""

from __future__ import annotations

import contextlib
import os
import pty
import re
import select
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import cli_command

ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
READY_RE = re.compile(r"assistant-cli ready · .*gateway: http://127\.0\.0\.1:(\d+)")
PROMPT = "you > "
START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0


class ServeProcess:
    """One `assistant-cli serve` child on a pty, with its output collected as it arrives."""

    def __init__(self, home: Path, env: dict[str, str], args: tuple[str, ...] = ("serve",)) -> None:
        master, slave = pty.openpty()
        try:
            self.proc = subprocess.Popen(
                [*cli_command(), *args], stdin=slave, stdout=slave, stderr=slave,
                env=env, cwd=home, start_new_session=True, close_fds=True,
            )
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)
        self.master: int | None = master
        os.set_blocking(master, False)
        self.raw = b""
        self.eof = False
        self.port: int | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def text(self) -> str:
        """Everything printed so far, decoded, with terminal escape sequences removed."""
        return ANSI_RE.sub("", self.raw.decode("utf-8", "replace")).replace("\r\n", "\n")

    def tail(self, chars: int = 1500) -> str:
        return self.text[-chars:]

    def _pump(self, wait: float) -> None:
        """Read whatever the child wrote within `wait` seconds."""
        if self.master is None or self.eof:
            time.sleep(wait)
            return
        ready, _, _ = select.select([self.master], [], [], wait)
        if not ready:
            return
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except BlockingIOError:
                return
            except OSError:  # EIO: every slave end is closed, the child is gone
                self.eof = True
                return
            if not chunk:
                self.eof = True
                return
            self.raw += chunk

    def expect(self, pattern: str, timeout: float = 10.0, since: int = 0) -> re.Match[str]:
        """Wait until `pattern` (a regex) appears in the output after offset `since`."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            match = regex.search(self.text, since)
            if match is not None:
                return match
            remaining = deadline - time.monotonic()
            if remaining <= 0 or (self.eof and self.proc.poll() is not None):
                pytest.fail(
                    f"{pattern!r} did not appear within {timeout:.1f} s "
                    f"(exit code {self.proc.poll()}); output tail:\n{self.tail()}"
                )
            self._pump(min(remaining, 0.05))

    def wait_ready(self) -> int:
        """Wait for the ready line and the first prompt; returns the gateway port."""
        match = self.expect(READY_RE.pattern, START_TIMEOUT)
        self.expect(re.escape(PROMPT), START_TIMEOUT)
        self.port = int(match.group(1))
        return self.port

    def wait_echo_off(self, timeout: float = 5.0) -> None:
        """Wait until the child turned terminal echo off (a hidden-input prompt is reading);
        typing earlier would be echoed and then discarded when getpass flushes input."""
        import termios

        assert self.master is not None
        deadline = time.monotonic() + timeout
        while termios.tcgetattr(self.master)[3] & termios.ECHO:
            if time.monotonic() > deadline:
                pytest.fail(f"echo was never turned off; output tail:\n{self.tail()}")
            self._pump(0.02)

    def wait_blocked_on_input(self, timeout: float = 5.0) -> None:
        """Wait until the child sleeps in a terminal read (Linux: /proc/PID/wchan).

        A SIGINT that lands just before a blocking read() starts is only noticed when the
        read returns (a CPython race); a person's Ctrl-C comes while the read waits.
        """
        wchan = Path(f"/proc/{self.pid}/wchan")
        deadline = time.monotonic() + timeout
        while wchan.read_text() not in ("wait_woken", "n_tty_read"):
            if time.monotonic() > deadline:
                pytest.fail(f"the child never waited for input; output tail:\n{self.tail()}")
            self._pump(0.02)

    def type(self, line: str) -> int:
        """Type a line at the prompt; returns the output offset to search answers from."""
        assert self.master is not None
        mark = len(self.text)
        os.write(self.master, line.encode() + b"\n")
        return mark

    def terminate(self, timeout: float = STOP_TIMEOUT) -> tuple[int, float]:
        """SIGTERM and wait; returns (exit code, seconds it took to stop)."""
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        while self.proc.poll() is None:
            if time.monotonic() - started > timeout:
                pytest.fail(f"serve did not stop within {timeout} s of SIGTERM; output tail:\n"
                            f"{self.tail()}")
            self._pump(0.05)
        self._pump(0)
        return self.proc.returncode, time.monotonic() - started

    def kill(self) -> None:
        """SIGKILL the whole process group and release the pty; safe to call twice."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)
        if self.master is not None:
            os.close(self.master)
            self.master = None
