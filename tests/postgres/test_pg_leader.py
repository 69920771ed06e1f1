"""One polling leader among replicas: an advisory lock that follows a replica's life."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

from assistant_cli.store.pg_leader import PgLeader, lock_key

# A replica in its own process: takes the lead, says so, then waits to be killed.
REPLICA = """
import asyncio, sys
from assistant_cli.store.pg_leader import PgLeader

async def main():
    leader = PgLeader(sys.argv[1], "telegram-poller")
    print("leader" if await leader.try_lead() else "follower", flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""


def test_lock_keys_are_stable_and_distinct() -> None:
    assert lock_key("telegram-poller") == lock_key("telegram-poller")
    assert lock_key("telegram-poller") != lock_key("audit")
    assert -2**63 <= lock_key("audit") < 2**63


async def test_one_replica_leads_and_a_clean_stop_hands_over_at_once(pg_url: str) -> None:
    a, b = PgLeader(pg_url, "telegram-poller"), PgLeader(pg_url, "telegram-poller")
    other_role = PgLeader(pg_url, "audit")
    try:
        assert await a.try_lead() is True
        assert await b.try_lead() is False
        assert await a.try_lead() is True  # still ours
        assert await other_role.try_lead() is True  # roles are independent
        await a.resign()
        assert not a.is_leader
        assert await b.try_lead() is True
    finally:
        for leader in (a, b, other_role):
            await leader.resign()


async def test_when_the_leader_is_killed_another_replica_takes_over_within_seconds(
    pg_url: str,
) -> None:
    proc = subprocess.Popen([sys.executable, "-c", REPLICA, pg_url], stdout=subprocess.PIPE,
                            text=True, start_new_session=True)
    follower = PgLeader(pg_url, "telegram-poller", interval=0.2)
    task = None
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "leader"
        task = asyncio.create_task(follower.run())
        await asyncio.sleep(0.6)
        assert not follower.is_leader
        os.kill(proc.pid, signal.SIGKILL)
        killed = time.monotonic()
        while not follower.is_leader:
            assert time.monotonic() - killed < 10, "no replica took over within 10 s"
            await asyncio.sleep(0.05)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(5)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    assert not follower.is_leader  # cancelling run() resigns


async def test_a_leader_that_loses_its_connection_stops_leading(pg_url: str) -> None:
    import psycopg

    leader = PgLeader(pg_url, "telegram-poller")
    assert await leader.try_lead()
    async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as admin:
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_locks"
            " WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()")
    assert await leader.try_lead() is False  # noticed at the next check, not leading blind
    assert leader.changed.is_set()
    assert await leader.try_lead() is True  # the lock was freed with the session: retake it
    await leader.resign()
