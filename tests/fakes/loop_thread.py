"""An asyncio loop in a daemon thread, for fake servers that sync and async tests share;
`AiohttpFake` serves an aiohttp app from it, and `Hang`/`HangAfter` are the stalls every
model fake can be scripted with."""

from __future__ import annotations

import asyncio
import collections
import ssl
import threading
from abc import ABC, abstractmethod
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Generic, TypeVar

from aiohttp import web

T = TypeVar("T")
B = TypeVar("B")  # a scripted behaviour
R = TypeVar("R")  # a recorded request
Self = TypeVar("Self", bound="ThreadedFake[Any, Any]")


@dataclass(frozen=True)
class Hang:
    """Accept the request and never answer until the server stops."""


@dataclass(frozen=True)
class HangAfter:
    """Stream the first n pieces of `text` (None: of the usual reply), then stall until the
    server stops. A request that asked for no streaming just hangs."""

    n_tokens: int
    text: str | None = None


class ThreadedFake(ABC, Generic[B, R]):
    """Base for fake servers: its own event loop in a thread, a script of behaviours,
    recorded requests and parked ("hung") handlers that stop() cuts off.

    Subclasses implement `_startup()` (returning the port) and `_shutdown()`. After a
    stop(), start() binds the same port again, so addresses handed out stay valid.
    """

    def __init__(self, script: Iterable[B] = (), port: int = 0) -> None:
        self._script: collections.deque[B] = collections.deque(script)
        self._port = port
        self._requests: list[R] = []
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stalled: set[asyncio.Task[Any]] = set()

    # ----------------------------------------------------------------- script

    @property
    def script(self) -> collections.deque[B]:
        """Behaviours consumed one per request, before the default reply applies."""
        return self._script

    @script.setter
    def script(self, behaviours: Iterable[B]) -> None:
        # A fresh deque is swapped in whole; deque.popleft() itself is thread-safe.
        self._script = collections.deque(behaviours)

    def enqueue(self, *behaviours: B) -> None:
        """Append behaviours; each request consumes one before the default reply applies."""
        self._script.extend(behaviours)

    def _next(self) -> B | None:
        try:
            return self._script.popleft()
        except IndexError:
            return None

    def _peek(self) -> B | None:
        try:
            return self._script[0]
        except IndexError:
            return None

    # ---------------------------------------------------------------- records

    @property
    def requests(self) -> list[R]:
        """Snapshot of the requests received so far (refused ones included)."""
        with self._cond:
            return list(self._requests)

    def clear(self) -> None:
        """Forget recorded requests and any remaining script."""
        with self._cond:
            self._requests.clear()
        self._script.clear()

    def _record(self, request: R) -> None:
        with self._cond:
            self._requests.append(request)
            self._cond.notify_all()

    def wait_for_requests(self, n: int, timeout: float = 5.0) -> bool:
        """Block until at least n requests arrived; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self._requests) >= n, timeout)

    # -------------------------------------------------------------- lifecycle

    @property
    def port(self) -> int:
        if self._thread is None:
            raise RuntimeError(f"{type(self).__name__} is not running")
        return self._port

    def start(self: Self) -> Self:
        if self._thread is not None:
            raise RuntimeError(f"{type(self).__name__} already running")
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=self._run_loop, args=(loop,), daemon=True,
                                  name=type(self).__name__)
        thread.start()
        try:
            self._port = asyncio.run_coroutine_threadsafe(self._startup(), loop).result(10)
        except BaseException:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(5)
            raise
        self._loop, self._thread = loop, thread
        return self

    def stop(self) -> None:
        """Stop serving; hung handlers are cancelled. Safe to call twice."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._stop_all(), loop).result(10)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            self._loop = self._thread = None

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 10) -> T:
        """Run a coroutine on the server's loop from the test's thread."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def __enter__(self: Self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    async def _stop_all(self) -> None:
        for task in list(self._stalled):
            task.cancel()
        await self._shutdown()

    async def _stall(self) -> None:
        """Park the current handler until stop() cancels it, as a dead upstream would."""
        task = asyncio.current_task()
        assert task is not None
        self._stalled.add(task)
        try:
            await asyncio.Future()
        finally:
            self._stalled.discard(task)

    @abstractmethod
    async def _startup(self) -> int:
        """Start serving on the fake's loop; returns the port."""

    @abstractmethod
    async def _shutdown(self) -> None:
        """Stop serving."""

    @staticmethod
    def _run_loop(loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        finally:
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()


class AiohttpFake(ThreadedFake[B, R]):
    """A ThreadedFake serving an aiohttp app on 127.0.0.1, over TLS when `ssl_context` is
    set (e.g. one that requires client certificates). Subclasses add routes in `_routes`."""

    ssl_context: ssl.SSLContext | None = None
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http{'s' if self.ssl_context else ''}://127.0.0.1:{self.port}"

    @abstractmethod
    def _routes(self, app: web.Application) -> None:
        """Add the fake's routes."""

    async def _startup(self) -> int:
        app = web.Application()
        self._routes(app)
        # Short shutdown timeout: a hung handler must never hold up a test's teardown.
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", self._port, ssl_context=self.ssl_context)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        port: int = runner.addresses[0][1]
        return port

    async def _shutdown(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
