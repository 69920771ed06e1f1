"""The terminal as a chat platform: type a line, watch the answer stream in.

rich is imported inside functions: only a console run draws on the terminal.
"""

from __future__ import annotations

import asyncio
import getpass
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from assistant_cli.channels.base import Channel, ChannelContext, InboundSink
from assistant_cli.domain.messages import InboundMessage
from assistant_cli.domain.tools import ConfirmRequest, StatusNote
from assistant_cli.errors import AssistantError
from assistant_cli.i18n import messages, translator

PROMPT = "you > "
HEADER = "[bold magenta]assistant >[/bold magenta] "
CHOICES = {"o": "once", "c": "chat", "a": "always", "d": "deny"}


class ConsoleChannel(Channel):
    """Reads stdin line by line; prints answers with rich as they arrive.

    Stdin is read in a daemon thread because a blocking read cannot be cancelled; at end of
    input the channel asks `serve` to finish what is queued and stop.
    """

    platform = "console"
    shows_status = True
    can_confirm = True

    def __init__(self, config: Any, ctx: ChannelContext) -> None:
        super().__init__(config, ctx)
        from rich.console import Console

        self.out = Console(highlight=False, soft_wrap=True)
        self.user = _os_user()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sink: InboundSink | None = None
        self._lock = asyncio.Lock()
        self._thread: threading.Thread | None = None
        self._started = time.time()
        self._line_open = False  # an answer's header is printed and its line not ended
        self._why: str | None = None  # why the last answer failed, shown after the apology
        self._question: asyncio.Future[str] | None = None  # a tool confirmation waiting

    async def start(self, sink: InboundSink) -> None:
        self._loop = asyncio.get_running_loop()
        self._sink = sink
        self.out.print("[dim]Type a message and press Enter. /help for commands, "
                       "Ctrl-D or Ctrl-C to quit.[/dim]")
        # Deferred so the first prompt comes after serve's "ready" line, not before it.
        self._loop.call_soon(self._prompt)
        self._thread = threading.Thread(target=self._read, name="console-stdin", daemon=True)
        self._thread.start()
        self.ready = True

    async def stop(self) -> None:
        self.ready = False
        self._sink = None

    def _read(self) -> None:
        while True:
            line = sys.stdin.readline()
            if not line:
                assert self._loop is not None
                self._loop.call_soon_threadsafe(self.ctx.request_stop)
                return
            self._store(line.rstrip("\r\n"))

    def _loop_call(self, fn: Any, *args: Any) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(fn, *args)

    def _store(self, text: str) -> None:
        """Hand a line to the loop and wait until it is dealt with (stored, or taken as the
        answer to a confirmation), so that lines keep their order and end of input comes
        after the last one."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        done = asyncio.run_coroutine_threadsafe(self._line(text), loop)
        try:
            done.result(timeout=60)
        except Exception as exc:  # e.g. the disk is full: say so, the line was not kept
            self._loop_call(self._not_stored, exc)

    def _not_stored(self, exc: Exception) -> None:
        self.out.print(f"not stored: {exc}", style="red", markup=False)

    async def _line(self, text: str) -> None:
        """A line typed: the answer to a pending confirmation, else a new message."""
        question = self._question
        if question is not None and not question.done():
            question.set_result(text)
            return
        if not text.strip():
            self._prompt()
            return
        msg = InboundMessage(
            platform=self.platform, external_id=uuid.uuid4().hex, chat_id="local",
            sender_id=self.user, sender_name=self.user, text=text,
        )
        if self._sink is not None:
            await self._sink.submit(msg)

    async def confirm(self, msg: InboundMessage, request: ConfirmRequest) -> str | None:
        """Asked in the middle of an answer (the reply holds the output lock)."""
        self._question = asyncio.get_running_loop().create_future()
        self.out.print()
        self.out.print(request.prompt, style="yellow", markup=False)
        choices = messages.tool_console_choices(translator(request.language))
        self.out.print(f"{choices} > ", end="", markup=False)
        self.out.file.flush()
        try:
            answer = await asyncio.wait_for(self._question, request.timeout)
        except asyncio.TimeoutError:
            self.out.print()
            return None
        finally:
            self._question = None
        self.out.print(HEADER, end="")
        return CHOICES.get(answer.strip().lower()[:1], "deny")

    def _prompt(self) -> None:
        self.out.print(f"[bold green]{PROMPT}[/bold green]", end="")
        self.out.file.flush()

    async def reply(self, msg: InboundMessage, deltas: AsyncIterator[str]) -> None:
        async with self._lock:
            self._header(msg)
            try:
                async for text in deltas:
                    if isinstance(text, StatusNote):
                        self.out.print(f"({text}) ", end="", style="dim", markup=False)
                        self.out.file.flush()
                        continue
                    self.out.print(text, end="", style="cyan", markup=False)
                    self.out.file.flush()
            except AssistantError as exc:
                # The turn runner follows up with a short apology through send(): it goes
                # on this line, and the reason (which only the owner here may see) after it.
                self._why = str(exc)
                raise
            except asyncio.CancelledError:
                self.out.print("[dim] (interrupted; answered again at the next start)[/dim]")
                self._line_open = False
                raise
            self.out.print()
            self._line_open = False
            self._prompt()

    async def send(self, chat_id: str, text: str) -> None:
        async with self._lock:
            if not self._line_open:
                self.out.print(HEADER, end="")
            self.out.print(text, style="cyan", markup=False)
            self._line_open = False
            self._show_why()
            self._prompt()

    def _header(self, msg: InboundMessage) -> None:
        if self._line_open:
            self.out.print()  # a reply that failed half-way is being tried again
            self._show_why()
        if msg.received_at < self._started:
            # Answering a message left over from a previous run: say which one.
            self.out.print(f"[dim](your earlier message: {msg.text[:60]!r})[/dim]")
        self.out.print(HEADER, end="")
        self._line_open = True

    def _show_why(self) -> None:
        if self._why is not None:
            self.out.print(f"  {self._why}", style="dim", markup=False)
            self._why = None


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry in some containers
        return "owner"
