"""Stopping never hides a failure: what fails while shutting down is logged, and the rest
still stops."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from assistant_cli.domain.events import EventBus
from assistant_cli.engine.core import Engine
from assistant_cli.engine.turn import TurnRunner
from assistant_cli.providers.router import ProviderRouter
from assistant_cli.store.db import Database
from assistant_cli.store.history import History
from assistant_cli.store.inbox import Inbox
from tests.test_engine import RecordingChannel, config_for


class BrokenOnStop(RecordingChannel):
    async def stop(self) -> None:
        raise RuntimeError("the platform hung up on us")


async def test_a_channel_failing_to_stop_is_logged_and_the_others_still_stop(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    db = Database(tmp_path / "state.db")
    config = config_for("http://127.0.0.1:9")
    events = EventBus()
    router = ProviderRouter(config, lambda r, w: "sk-test-key", events)
    inbox = Inbox(db)
    broken, fine = BrokenOnStop(), RecordingChannel()
    engine = Engine(inbox, TurnRunner(inbox, History(db), router, config.assistant, events),
                    {"broken": broken, "fine": fine}, events, workers=1, grace=1.0)
    await engine.start()
    assert fine.ready
    with caplog.at_level(logging.ERROR, logger="assistant_cli"):
        await engine.stop()
    assert not fine.ready
    failed = [r for r in caplog.records if getattr(r, "event", None) == "channel.stop_failed"]
    assert len(failed) == 1 and "broken" in failed[0].getMessage()
    assert failed[0].exc_info is not None and "hung up" in str(failed[0].exc_info[1])
    db.close()
