"""Running doctor checks: all at once, each with a time limit, never letting one crash the run."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from assistant_cli.doctor.base import (
    STATUS_ORDER,
    Check,
    DoctorContext,
    Result,
    Skip,
    fail,
    skipped,
)
from assistant_cli.doctor.registry import all_checks, selected
from assistant_cli.errors import AssistantError

T = TypeVar("T")

# A check's own stages time out at the run's --timeout; this margin lets their more
# precise messages win over the generic one below.
GRACE = 0.5
GENERIC_TIMEOUT_FIX = ("this part of the system is not answering; retry with a larger "
                       "--timeout, and if it persists find what is stuck")
BUG_FIX = ("this is a bug in doctor itself; please report it with the output of "
           "`assistant-cli --debug doctor --only ID`")


@dataclass(frozen=True)
class Outcome:
    """A check's final result, what --fix changed for it, and how long it took."""

    check: Check
    result: Result
    changes: list[str] = field(default_factory=list)
    seconds: float = 0.0


async def _detect(check: Check, ctx: DoctorContext) -> Result:
    limit = (check.timeout or ctx.timeout) + GRACE
    try:
        return await asyncio.wait_for(check.detect(ctx), limit)
    except Skip as exc:
        return skipped(str(exc))
    except asyncio.TimeoutError:
        return fail(f"no answer within {limit:g} s", check.on_timeout or GENERIC_TIMEOUT_FIX)
    except AssistantError as exc:
        return fail(exc.message, exc.hint or "")
    except Exception as exc:
        return fail(f"the check itself failed: {type(exc).__name__}: {exc}", BUG_FIX)


async def _run_one(check: Check, ctx: DoctorContext, fix: bool) -> Outcome:
    started = time.monotonic()
    if check.network and ctx.offline:
        return Outcome(check, skipped("--offline"))
    result = await _detect(check, ctx)
    changes: list[str] = []
    # An ok result may still be fixable (e.g. a directory serve would create later).
    if fix and check.fix is not None and result.fixable:
        try:
            changes = await asyncio.wait_for(check.fix(ctx), ctx.timeout + GRACE)
        except Exception as exc:  # a failed repair is reported, never fatal
            changes = [f"could not repair: {type(exc).__name__}: {exc}"]
        result = await _detect(check, ctx)
    return Outcome(check, result, changes, time.monotonic() - started)


async def run_checks(ctx: DoctorContext, *, only: list[str] | None = None,
                     skip: list[str] | None = None, fix: bool = False) -> list[Outcome]:
    """Run the selected checks concurrently; outcomes come back in report order."""
    checks = [c for c in await all_checks(ctx)
              if (not only or selected(c.id, only)) and not (skip and selected(c.id, skip))]
    try:
        return list(await asyncio.gather(*(_run_one(c, ctx, fix) for c in checks)))
    finally:
        ctx.cancel_shared()


def exit_code(outcomes: list[Outcome]) -> int:
    """0 when everything is ok (or skipped), 1 with warnings, 2 with failures."""
    return max((STATUS_ORDER[o.result.status] for o in outcomes), default=0)


class _DaemonThreads(ThreadPoolExecutor):
    """The loop's default executor (DNS lookups of httpx and PTB) on daemon threads.

    A ThreadPoolExecutor's workers are joined when the interpreter exits, so one resolver
    stuck on an unreachable DNS server would keep `doctor` from exiting after its report.
    """

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()

        def work() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as exc:
                future.set_exception(exc)

        threading.Thread(target=work, name="doctor-executor", daemon=True).start()
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        return None


def run(ctx: DoctorContext, *, only: list[str] | None = None, skip: list[str] | None = None,
        fix: bool = False) -> list[Outcome]:
    """Synchronous entry point: a fresh event loop that does not wait for abandoned threads."""
    loop = asyncio.new_event_loop()
    loop.set_default_executor(_DaemonThreads(max_workers=1))
    try:
        return loop.run_until_complete(run_checks(ctx, only=only, skip=skip, fix=fix))
    finally:
        # No shutdown_default_executor(): a thread stuck in a dead keyring or file system
        # would block it forever. Checks use daemon threads (base.in_thread) instead.
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
