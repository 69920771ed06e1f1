"""Cross-replica events: a dashboard connected to one replica sees the messages another
replica handled and every replica's metrics with its role; /metrics carries the replica."""

from __future__ import annotations

import asyncio
import urllib.request
from typing import Any

import aiohttp
import pytest

from tests.e2e.replicas.harness import start_replica, state_yaml, webhook_yaml
from tests.e2e.telegram_harness import HOOK_SECRET, Starter, http
from tests.fakes.telegram_server import FakeTelegram

pytestmark = pytest.mark.e2e


async def watch(base: str, token: str, hook: str, update: dict[str, Any]) -> list[
        tuple[str, dict[str, Any]]]:
    """Connect to `base`, post `update` to another replica's `hook`, collect events until
    that replica's answer and both replicas' metrics were seen (or 15 s passed)."""
    seen: list[tuple[str, dict[str, Any]]] = []
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(base.replace("http", "ws", 1) + "/ws",
                                      headers={"Authorization": f"Bearer {token}"})
        await asyncio.to_thread(http, "POST", hook, update,
                                {"X-Telegram-Bot-Api-Secret-Token": HOOK_SECRET})
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 15
        while loop.time() < deadline and not done(seen):
            try:
                frame = await ws.receive_json(timeout=max(0.1, deadline - loop.time()))
            except (asyncio.TimeoutError, TypeError):
                break
            if frame.get("type") == "event":
                seen.append((frame["event"], frame["data"]))
        await ws.close()
    return seen


def done(seen: list[tuple[str, dict[str, Any]]]) -> bool:
    answered = any(n == "message.out" and d.get("replica") == "b" for n, d in seen)
    roles = {d.get("replica"): d.get("role") for n, d in seen if n == "replica.metrics"}
    return answered and {"a", "b"} <= set(roles)


def test_a_dashboard_on_one_replica_sees_the_others_messages_and_metrics(
    start: Starter, tg: FakeTelegram, pg_url: str
) -> None:
    start.configure(telegram=webhook_yaml(), extra=state_yaml(pg_url))
    a, _ = start_replica(start, "a", "--role", "intake")  # a answers nothing itself
    b, hook_b = start_replica(start, "b")
    tg.push_message(6001, "hello from b")
    (update,) = tg.pop_updates()
    seen = asyncio.run(watch(a.gateway, a.dashboard_token, hook_b, update))
    names = [(n, d.get("replica")) for n, d in seen]
    assert ("message.in", "b") in names and ("message.out", "b") in names, names
    assert not any(n.startswith("message.") and r == "a" for n, r in names)
    roles = {d["replica"]: d["role"] for n, d in seen if n == "replica.metrics"}
    assert roles == {"a": "intake", "b": "all"}
    out = next(d for n, d in seen if n == "message.out")
    assert out["outcome"] == "answered" and "text" not in out  # text only if exposed

    with urllib.request.urlopen(b.gateway + "/metrics", timeout=10) as resp:
        metrics = resp.read().decode()
    assert 'assistant_messages_total{replica="b",channel="telegram",outcome="answered"} 1' \
        in metrics, metrics[:2000]
    assert 'process_cpu_percent{replica="b"}' in metrics


async def login_statuses(bases: list[str], tries: int) -> list[int]:
    """HTTP status of each WebSocket login with a wrong token, round-robin over `bases`."""
    statuses = []
    async with aiohttp.ClientSession() as session:
        for i in range(tries):
            url = bases[i % len(bases)].replace("http", "ws", 1) + "/ws"
            try:
                ws = await session.ws_connect(url, headers={"Authorization": "Bearer wrong"})
                await ws.close()
                statuses.append(101)
            except aiohttp.WSServerHandshakeError as exc:
                statuses.append(exc.status)
            await asyncio.sleep(0.3)  # let the failure reach the other replicas
    return statuses


def test_the_dashboard_login_lockout_holds_across_replicas(
    start: Starter, tg: FakeTelegram, pg_url: str
) -> None:
    start.configure(telegram=webhook_yaml(), extra=state_yaml(pg_url))
    bases = [start_replica(start, name)[0].gateway for name in ("a", "b", "c")]
    statuses = asyncio.run(login_statuses(bases, 12))
    # gateway.lockout_failures (10) wrong tokens in all, whichever replicas they went to:
    # the address is locked out on every replica, not after 10 per replica.
    assert statuses[:10] == [401] * 10, statuses
    assert statuses[10:] == [429, 429], statuses
