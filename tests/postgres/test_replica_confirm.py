"""A tool-confirmation press that reaches another replica than the one waiting on the
question (webhooks go to any replica; one replica polls) settles it there, through the
replicas' LISTEN/NOTIFY events, on a real PostgreSQL server."""

from __future__ import annotations

import asyncio

from assistant_cli.app.replicas import Replica, open_pool
from assistant_cli.channels.confirm import PendingQuestions, payload
from assistant_cli.domain.events import EventBus
from assistant_cli.domain.tools import ConfirmRequest
from assistant_cli.store.pg_events import PgEvents
from assistant_cli.store.pg_inbox import PgInbox

REQUEST = ConfirmRequest(tool="files.write", arguments="{}", prompt="Run it?", timeout=5.0)


async def replica(pg_url: str, name: str) -> Replica:
    pool = await open_pool(pg_url, None, 2, name)
    return Replica(name, "all", pg_url, None, pool, PgInbox(pool, replica=name),
                   PgEvents(pool, pg_url, flush_every=0.05))


async def test_a_press_on_another_replica_settles_the_question(pg_url: str) -> None:
    asker, receiver = await replica(pg_url, "asker"), await replica(pg_url, "receiver")
    asking, receiving = PendingQuestions(), PendingQuestions()
    try:
        await asker.start(EventBus(), None, expose_text=False)
        await receiver.start(EventBus(), None, expose_text=False)  # its relay forwards presses
        await asyncio.sleep(0.5)  # both listen
        token, future = asking.open("u1", REQUEST)
        stranger = receiving.answer(payload(token, "always"), "u2")
        note = receiving.answer(payload(token, "once"), "u1")
        assert note == "Allow once" and stranger == "Always"  # neither known here
        decision = await asking.wait(token, future, 5.0)
        assert decision == "once"  # the stranger's press was not taken; the asker's was
    finally:
        await receiver.close()
        await asker.close()
        await asker.pool.close()
        await receiver.pool.close()


async def test_without_replicas_an_unknown_press_has_expired() -> None:
    questions = PendingQuestions()
    assert questions.answer(payload("gone", "once"), "u1") == "This question has expired."
