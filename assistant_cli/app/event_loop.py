"""The event loop `serve` runs on: uvloop when it is installed, asyncio's own otherwise.

uvloop (the `fast` extra: `pip install 'assistant-cli[fast]'`) runs the same code with
less CPU per message: its selector, transports and callbacks are compiled (see
benchmarks/README.md for the measured difference). It is optional and never required:
without it, or with `ASSISTANT_CLI_EVENT_LOOP=asyncio` in the environment (to compare, or
to rule it out when something misbehaves), serve uses asyncio's default loop.

`uvloop` is imported inside functions (`loop_factory`), by design: it is an optional
dependency, and only `serve` wants it, so no other command pays for the import.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

ENV_VAR = "ASSISTANT_CLI_EVENT_LOOP"


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop factory if it is installed and not turned off; None for asyncio's."""
    if os.environ.get(ENV_VAR, "").strip().lower() == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def loop_name(loop: asyncio.AbstractEventLoop) -> str:
    """"uvloop" or "asyncio", for the ready line and logs."""
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"


def run(main: Coroutine[Any, Any, T]) -> T:
    """asyncio.run(main) on the loop `loop_factory` picks."""
    factory = loop_factory()
    if factory is None:
        return asyncio.run(main)
    if sys.version_info >= (3, 11):
        with asyncio.Runner(loop_factory=factory) as runner:
            return runner.run(main)
    loop = factory()  # Python 3.10: what asyncio.Runner does, by hand
    try:
        asyncio.set_event_loop(loop)
        return loop.run_until_complete(main)
    finally:
        asyncio.set_event_loop(None)
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
