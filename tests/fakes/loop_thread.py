"""An asyncio loop in a daemon thread, for fake servers that sync and async tests share."""

from __future__ import annotations

import asyncio
import collections
import threading
from collections.abc import Coroutine, Iterable
from types import TracebackType
from typing import Any, Generic, TypeVar

T = TypeVar("T")
B = TypeVar("B")
Self = TypeVar("Self", bound="ThreadedFake[Any]")


class ThreadedFake(Generic[B]):
    """Base for fake servers: its own event loop in a thread, a script of behaviours,
    recorded requests and parked ("hung") handlers that stop() cuts off.

    Subclasses implement `_startup()` (returning the port) and `_shutdown()`.
    """

    def __init__(self, script: Iterable[B] = (), port: int = 0) -> None:
        self._script: collections.deque[B] = collections.deque(script)
        self._port = port
        self._requests: list[Any] = []
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stalled: set[asyncio.Task[Any]] = set()

    # ----------------------------------------------------------------- script

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

    def _record(self, request: Any) -> None:
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

    async def _startup(self) -> int:
        raise NotImplementedError

    async def _shutdown(self) -> None:
        raise NotImplementedError

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
