"""serve's event loop: uvloop when installed (the `fast` extra), asyncio's when turned off."""

from __future__ import annotations

import asyncio
import sys

import pytest

from assistant_cli.app import event_loop


async def _running_loop_name() -> str:
    await asyncio.sleep(0)
    return event_loop.loop_name(asyncio.get_running_loop())


def test_uvloop_is_used_when_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("uvloop")
    monkeypatch.delenv(event_loop.ENV_VAR, raising=False)
    assert event_loop.loop_factory() is not None
    assert event_loop.run(_running_loop_name()) == "uvloop"


def test_the_environment_turns_it_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(event_loop.ENV_VAR, "asyncio")
    assert event_loop.loop_factory() is None
    assert event_loop.run(_running_loop_name()) == "asyncio"


def test_without_uvloop_asyncio_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(event_loop.ENV_VAR, raising=False)
    monkeypatch.setitem(sys.modules, "uvloop", None)  # the import now fails
    assert event_loop.loop_factory() is None
    assert event_loop.run(_running_loop_name()) == "asyncio"


def test_a_failure_propagates_and_the_loop_closes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(event_loop.ENV_VAR, raising=False)
    seen: list[asyncio.AbstractEventLoop] = []

    async def boom() -> None:
        seen.append(asyncio.get_running_loop())
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        event_loop.run(boom())
    assert seen and seen[0].is_closed()
