"""Replicas benchmark: messages/s at P99 < 500 ms with 1, 2 and 3 `serve` replicas on one
PostgreSQL database, and the per-message overhead of PostgreSQL against SQLite on one node.

Everything runs on this machine: an embedded PostgreSQL server (tests/pg_server.py), the
fake Bot API and a fake OpenAI model (tests/fakes) in this process, and the replicas as
`assistant-cli serve` children in webhook mode, each on its own port, sharing one home.
Updates are posted at a steady rate, round-robin over the replicas (as nginx would); an
answer counts when its sendMessage reaches the fake, and latency is POST → that send. For
each replica count the rate climbs step by step until P99 reaches 500 ms (or a message is
lost or answered twice); the best step that held is reported. Figures are reported, never
asserted: replicas, database, fakes and load generator share the machine's cores.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.telegram_e2e import (  # noqa: E402 - needs ROOT on sys.path
    cli_command,
    overheads,
    percentile,
)
from tests.fakes.openai_server import FakeOpenAI  # noqa: E402
from tests.fakes.telegram_server import FakeTelegram  # noqa: E402
from tests.pg_server import PgServer  # noqa: E402

HOOK_SECRET = "bench_webhook-secret"
OBJECTIVE_MS = 500.0


@dataclass
class Step:
    """One rate held for some seconds against some replicas."""

    backend: str
    replicas: int
    rate: float
    pushed: int
    answered: int
    lost: int
    twice: int
    answered_per_s: float
    p50_ms: float
    p99_ms: float
    overhead_p50_ms: float
    overhead_p99_ms: float

    @property
    def held(self) -> bool:
        return self.p99_ms < OBJECTIVE_MS and not self.lost and not self.twice


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_config(home: Path, tg: FakeTelegram, model: FakeOpenAI, workers: int,
                 state_url: str | None) -> None:
    home.mkdir(parents=True, exist_ok=True)
    state = f"state:\n  url: \"{state_url}\"\n  pool_size: 6\n" if state_url else ""
    (home / "config.yaml").write_text(
        "version: 1\nplatforms:\n  console:\n    enabled: false\n  telegram:\n"
        f"    api_token: env:TG_TOKEN\n    base_url: {tg.base_url}\n    dm_policy: open\n"
        "    mode: webhook\n    webhook_url: https://bot.example/webhooks/telegram\n"
        "    webhook_secret: env:TG_HOOK\n"
        f"providers:\n  fake:\n    base_url: {model.base_url}\n    model: {model.model}\n"
        "    api_key: env:FAKE_OPENAI_KEY\n"
        f"assistant:\n  workers: {workers}\n  history_length: 4\n"
        f"gateway:\n  port: 0\n{state}", encoding="utf-8")


class Replicas:
    """N `serve` children on one home; stopped (SIGTERM) on exit."""

    def __init__(self, home: Path, env: dict[str, str], count: int, postgres: bool) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []
        self.hooks: list[str] = []
        for i in range(count):
            port = free_port()
            args = ["--port", str(port)] + (["--replica", f"r{i}"] if postgres else [])
            out = open(home / f"serve-{i}.out", "wb")  # noqa: SIM115 - the child owns it
            self.procs.append(subprocess.Popen(
                [*cli_command(), "serve", *args], stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, env=env, cwd=home, start_new_session=True))
            self.hooks.append(f"http://127.0.0.1:{port}/webhooks/telegram")
            wait_ready(port, self.procs[-1], home / f"serve-{i}.out")

    def stop(self) -> None:
        for proc in self.procs:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def wait_ready(port: int, proc: subprocess.Popen[bytes], out: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        with contextlib.suppress(OSError), urllib.request.urlopen(
                f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
            if r.status == 200:
                return
        time.sleep(0.1)
    raise SystemExit("serve did not start:\n" + out.read_text(errors="replace")[-2000:])


def post(hook: str, update: dict[str, Any]) -> int:
    request = urllib.request.Request(hook, data=json.dumps(update).encode(), method="POST",
                                     headers={"Content-Type": "application/json",
                                              "X-Telegram-Bot-Api-Secret-Token": HOOK_SECRET})
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return int(resp.status)
    except OSError:
        return 0


def answers(tg: FakeTelegram, tag: str) -> dict[str, list[float]]:
    seen: dict[str, list[float]] = {}
    for call in tg.log:
        text = str(call.params.get("text", ""))
        if call.method == "sendMessage" and call.status == 200 and f" {tag}-" in f" {text}":
            key = text.split(f"{tag}-", 1)[1].split()[0]
            seen.setdefault(key, []).append(call.timestamp)
    return seen


def step(tg: FakeTelegram, hooks: list[str], rate: float, seconds: float, chats: int,
         tag: str, drain: float) -> tuple[int, dict[str, float], dict[str, list[float]]]:
    """Post `rate`/s for `seconds`; (pushed, post times, answers) once drained."""
    total = int(rate * seconds)
    for i in range(total):
        tg.push_message(800_000 + i % chats, f"{tag}-{i}")
    updates = tg.pop_updates()
    posted: dict[str, float] = {}
    with ThreadPoolExecutor(32) as pool:
        started = time.monotonic()
        for i, update in enumerate(updates):
            delay = started + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            posted[str(i)] = time.time()
            pool.submit(retry_post, hooks, hooks[i % len(hooks)], update)
    deadline = time.monotonic() + drain
    while len(answers(tg, tag)) < total and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.3)  # late duplicates would show now
    return total, posted, answers(tg, tag)


def retry_post(hooks: list[str], first: str, update: dict[str, Any]) -> None:
    order = [first] + [h for h in hooks if h != first]
    for attempt in range(50):
        if post(order[attempt % len(order)], update) == 200:
            return
        time.sleep(0.05)


def measure(backend: str, count: int, rates: list[float], seconds: float, chats: int,
            workers: int, token_delay: float, server: PgServer | None) -> list[Step]:
    token = f"{random.randint(10**8, 10**9 - 1)}:{secrets.token_urlsafe(27)}"
    steps: list[Step] = []
    with FakeTelegram(token=token, allow_insecure_webhook=True) as tg, \
            FakeOpenAI(token_delay=token_delay) as model, \
            tempfile.TemporaryDirectory(prefix="replicas-bench-") as tmp:
        home = Path(tmp)
        url = new_database(server) if server is not None else None
        write_config(home, tg, model, workers, url)
        env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
        env.update(ASSISTANT_CLI_HOME=str(home), NO_COLOR="1", PYTHONUNBUFFERED="1",
                   TG_TOKEN=token, TG_HOOK=HOOK_SECRET, FAKE_OPENAI_KEY=model.api_key or "",
                   ASSISTANT_CLI_KEYRING_PASSWORD="benchmark-only")
        replicas = Replicas(home, env, count, postgres=url is not None)
        log = home / "state" / "logs" / "assistant-cli.jsonl"
        try:
            for n, rate in enumerate(rates):
                before = len(overheads(log))
                total, posted, seen = step(tg, replicas.hooks, rate, seconds, chats,
                                           f"s{n}", drain=10.0)
                lat = [(seen[k][0] - posted[k]) * 1000 for k in seen if k in posted]
                firsts = [t[0] for t in seen.values()]
                spent = max(firsts) - min(posted.values()) if firsts else 0.0
                over = overheads(log)[before:]
                steps.append(Step(
                    backend, count, rate, total, len(seen), total - len(seen),
                    sum(1 for t in seen.values() if len(t) > 1),
                    round(len(seen) / spent, 1) if spent > 0 else 0.0,
                    percentile(lat, 50), percentile(lat, 99),
                    percentile(over, 50), percentile(over, 99)))
                print(render_step(steps[-1]), file=sys.stderr, flush=True)
                if not steps[-1].held:
                    break
        finally:
            replicas.stop()
    return steps


def new_database(server: PgServer) -> str:
    import psycopg

    name = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server.uri, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    return server.uri.replace("/postgres?", f"/{name}?")


def render_step(s: Step) -> str:
    return (f"{s.backend:10} x{s.replicas}  {s.rate:6.0f}/s  answered {s.answered}/{s.pushed}"
            f" ({s.answered_per_s:g}/s)  P50 {s.p50_ms:.0f} ms  P99 {s.p99_ms:.0f} ms"
            f"  overhead P50 {s.overhead_p50_ms:.1f} / P99 {s.overhead_p99_ms:.1f} ms"
            f"  lost {s.lost} twice {s.twice}  {'held' if s.held else 'MISSED'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", default="1,2,3", help="replica counts (1,2,3)")
    parser.add_argument("--rates", default="25,50,100,150,200,300",
                        help="messages/s steps, climbed until P99 reaches 500 ms")
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds per step (5)")
    parser.add_argument("--chats", type=int, default=50, help="chats to spread over (50)")
    parser.add_argument("--workers", type=int, default=8, help="assistant.workers (8)")
    parser.add_argument("--token-delay", type=float, default=0.0,
                        help="seconds between the fake model's tokens (0: no model time)")
    parser.add_argument("--overhead-rate", type=float, default=20.0,
                        help="rate of the one-node SQLite vs PostgreSQL comparison (20)")
    parser.add_argument("--json", action="store_true", help="print machine-readable results")
    args = parser.parse_args(argv)
    rates = [float(r) for r in args.rates.split(",")]
    server = PgServer()
    results: dict[str, Any] = {"python": platform.python_version(), "cpus": os.cpu_count()}
    try:
        one_node = [measure(backend, 1, [args.overhead_rate], args.seconds, args.chats,
                            args.workers, args.token_delay, pg)[0]
                    for backend, pg in (("sqlite", None), ("postgresql", server))]
        results["one_node"] = [asdict(s) for s in one_node]
        best = {}
        for count in (int(c) for c in args.replicas.split(",")):
            steps = measure("postgresql", count, rates, args.seconds, args.chats,
                            args.workers, args.token_delay, server)
            held = [s for s in steps if s.held]
            best[count] = asdict(held[-1]) if held else None
            results[f"replicas_{count}"] = [asdict(s) for s in steps]
        results["best"] = best
    finally:
        server.stop()
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print_summary(results)
    return 0


def print_summary(results: dict[str, Any]) -> None:
    print(f"assistant-cli replicas · Python {results['python']} · {results['cpus']} CPUs")
    sqlite, pg = results["one_node"]
    print(f"one node at {sqlite['rate']:g}/s: overhead P50/P99 SQLite "
          f"{sqlite['overhead_p50_ms']:.1f}/{sqlite['overhead_p99_ms']:.1f} ms, PostgreSQL "
          f"{pg['overhead_p50_ms']:.1f}/{pg['overhead_p99_ms']:.1f} ms; end-to-end P50 "
          f"{sqlite['p50_ms']:.0f} vs {pg['p50_ms']:.0f} ms")
    for count, best in results["best"].items():
        if best is None:
            print(f"{count} replica(s): no step held P99 < {OBJECTIVE_MS:.0f} ms")
        else:
            print(f"{count} replica(s): {best['answered_per_s']:g} messages/s answered at "
                  f"{best['rate']:g}/s offered, P99 {best['p99_ms']:.0f} ms")


if __name__ == "__main__":
    sys.exit(main())
