"""WhatsApp on two replicas of one PostgreSQL database: Meta's webhooks reach either one,
and the same message delivered to both (Meta retries, nginx balances) is stored once and
answered once."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import pytest

from tests.conftest import cli_command
from tests.doctor_support import free_port
from tests.e2e.replicas.harness import inbox_status, state_yaml
from tests.e2e.telegram_harness import http, wait
from tests.e2e.test_serve_whatsapp import FRIEND, env, graph, openai, write_config
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.whatsapp_server import FakeGraph, new_wamid, post_webhook, text_payload

pytestmark = pytest.mark.e2e
__all__ = ["env", "graph", "openai"]  # fixtures of the single-process WhatsApp tests


@pytest.fixture
def replicas(isolated_home: Path, graph: FakeGraph, openai: FakeOpenAI, env: dict[str, str],
             pg_url: str) -> Iterator[list[str]]:
    """Two replicas; their webhook URLs."""
    write_config(isolated_home, graph, openai)
    with (isolated_home / "config.yaml").open("a", encoding="utf-8") as config:
        config.write(state_yaml(pg_url))
    procs: list[subprocess.Popen[bytes]] = []
    hooks = []
    try:
        for name in ("a", "b"):
            port = free_port()
            out = (isolated_home / f"serve-{name}.out").open("wb")
            procs.append(subprocess.Popen(
                [*cli_command(), "serve", "--replica", name, "--port", str(port)],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
                cwd=isolated_home, start_new_session=True))
            hook = f"http://127.0.0.1:{port}/webhooks/whatsapp"
            wait(partial(ready, hook), timeout=15, what=f"replica {name} ready")
            hooks.append(hook)
        yield hooks
    finally:
        for proc in procs:
            proc.kill()
            proc.wait(5)


def ready(hook: str) -> bool:
    try:
        return http("GET", hook.replace("/webhooks/whatsapp", "/readyz"))[0] == 200
    except OSError:
        return False


def test_the_same_message_to_both_replicas_is_stored_and_answered_once(
    replicas: list[str], graph: FakeGraph, pg_url: str
) -> None:
    payloads = [text_payload(FRIEND, f"hello {i}", wamid=new_wamid()) for i in range(10)]
    with ThreadPoolExecutor(4) as pool:  # each delivered to both replicas at the same time
        statuses = list(pool.map(lambda a: post_webhook(a[0], a[1]).status_code,
                                 [(hook, p) for p in payloads for hook in replicas]))
    assert statuses == [200] * 20
    wait(lambda: inbox_status(pg_url) == {"done": 10}, timeout=20, what="all answered")
    time.sleep(0.5)  # a second answer would show now
    assert sorted(graph.texts_to(FRIEND)) == sorted(f"echo: hello {i}" for i in range(10))
