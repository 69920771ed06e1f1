"""Telegram end-to-end benchmark: throughput, latency and our own overhead through `serve`.

A fake Bot API and a fake OpenAI server (fixed per-token delay) run in this process;
`assistant-cli serve` runs as a child with `dm_policy: open`. Messages are pushed at a
steady rate across several chats; an answer counts when its final sendMessage reaches the
fake. Overhead (everything but waiting for the model) comes from the `overhead_ms` field of
the `message.done` events in serve's JSON log.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.fake_model import Model, model_server  # noqa: E402 - needs ROOT on sys.path
from tests.fakes.telegram_server import FakeTelegram  # noqa: E402

READY_RE = re.compile(r"assistant-cli ready · ")
KEY_RE = re.compile(r"\bre:(m\d+)\b")
FIRST_CHAT = 700_000


@dataclass
class Report:
    """Everything one run measured."""

    rate: float
    seconds: float
    chats: int
    workers: int
    tokens: int
    token_delay_ms: float
    pushed: int
    answered: int
    lost: int
    answered_twice: int
    answered_per_s: float
    latency_p50_ms: float
    latency_p99_ms: float
    overhead_p50_ms: float
    overhead_p99_ms: float
    overhead_samples: int
    serve_cpu_percent: float
    bench_cpu_percent: float  # this process: fake Bot API and the load
    model_cpu_percent: float  # the fake model's process (0 when it runs in this one)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return round(ordered[index], 2)


def cli_command() -> list[str]:
    script = Path(sys.executable).parent / "assistant-cli"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "assistant_cli"]


# Runs the CLI of one source tree with this interpreter's packages: the editable install's
# import hook would otherwise win over PYTHONPATH and run this checkout whatever the tree.
LAUNCH = ("import sys; sys.meta_path[:] = [f for f in sys.meta_path"
          " if 'editable' not in repr(f)]; sys.path.insert(0, {tree!r});"
          " from assistant_cli.cli.entry import main; sys.exit(main())")


def serve_command(tree: Path) -> list[str]:
    return [sys.executable, "-c", LAUNCH.format(tree=str(tree))]


def write_config(home: Path, tg: FakeTelegram, model: Model, workers: int) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.yaml").write_text(
        "version: 1\n"
        "platforms:\n"
        "  console:\n    enabled: false\n"
        "  telegram:\n"
        "    api_token: env:TG_TOKEN\n"
        f"    base_url: {tg.base_url}\n"
        "    dm_policy: open\n"
        "providers:\n"
        "  fake:\n"
        f"    base_url: {model.base_url}\n"
        f"    model: {model.model}\n"
        "    api_key: env:FAKE_OPENAI_KEY\n"
        f"assistant:\n  workers: {workers}\n  history_length: 4\n"
        "gateway:\n  port: 0\n",
        encoding="utf-8",
    )


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc (0 where that is unavailable)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_serve(home: Path, env: dict[str, str],
                command: list[str] | None = None) -> subprocess.Popen[bytes]:
    out = open(home / "serve.out", "wb")  # noqa: SIM115 - the child owns it until it exits
    proc = subprocess.Popen([*(command or cli_command()), "serve"], stdin=subprocess.DEVNULL,
                            stdout=out, stderr=subprocess.STDOUT, env=env, cwd=home,
                            start_new_session=True)
    deadline = time.monotonic() + 20
    while not READY_RE.search((home / "serve.out").read_text(errors="replace")):
        if proc.poll() is not None or time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            raise SystemExit("serve did not start:\n"
                             + (home / "serve.out").read_text(errors="replace")[-2000:])
        time.sleep(0.05)
    return proc


def overheads(log_file: Path) -> list[float]:
    found: list[float] = []
    with contextlib.suppress(OSError), open(log_file, encoding="utf-8") as lines:
        for line in lines:
            with contextlib.suppress(ValueError):
                record = json.loads(line)
                if (record.get("event") == "message.done" and "overhead_ms" in record
                        and record.get("outcome") == "answered"):
                    found.append(float(record["overhead_ms"]))
    return found


def run(rate: float, seconds: float, chats: int, workers: int, tokens: int,
        token_delay: float, drain: float, tree: Path | None = None,
        fakes_in_process: bool = False) -> Report:
    token = f"{random.randint(10**8, 10**9 - 1)}:{secrets.token_urlsafe(27)}"
    with FakeTelegram(token=token) as tg, \
            model_server(token_delay=token_delay, tokens=tokens,
                         in_process=fakes_in_process) as model, \
            tempfile.TemporaryDirectory(prefix="tg-bench-") as tmp:
        home = Path(tmp)
        write_config(home, tg, model, workers)
        env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
        env.update(ASSISTANT_CLI_HOME=str(home), NO_COLOR="1", PYTHONUNBUFFERED="1",
                   TG_TOKEN=token, FAKE_OPENAI_KEY=model.api_key,
                   ASSISTANT_CLI_KEYRING_PASSWORD="benchmark-only")
        proc = start_serve(home, env, serve_command(tree) if tree else None)
        try:
            pushed: dict[str, float] = {}
            total = int(rate * seconds)
            cpu0, wall0 = cpu_seconds(proc.pid), time.monotonic()
            bench0, model0 = time.process_time(), model.cpu_seconds()
            started = time.monotonic()
            for i in range(total):
                delay = started + i / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                key = f"m{i}"
                pushed[key] = time.time()
                tg.push_message(FIRST_CHAT + i % chats, key)

            def answers() -> dict[str, list[float]]:
                seen: dict[str, list[float]] = {}
                for call in tg.log:
                    if call.method == "sendMessage" and call.status == 200:
                        match = KEY_RE.search(str(call.params.get("text", "")))
                        if match:
                            seen.setdefault(match.group(1), []).append(call.timestamp)
                return seen

            deadline = time.monotonic() + drain
            while len(answers()) < total and time.monotonic() < deadline:
                time.sleep(0.1)
            busy = cpu_seconds(proc.pid) - cpu0
            wall = time.monotonic() - wall0
            bench, model_cpu = time.process_time() - bench0, model.cpu_seconds() - model0
            time.sleep(0.5)  # late duplicates would show up now
            seen = answers()
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        firsts = [times[0] for times in seen.values()]
        latencies = [(seen[k][0] - pushed[k]) * 1000 for k in seen if k in pushed]
        spent = max(firsts) - min(pushed.values()) if firsts else float("nan")
        over = overheads(home / "state" / "logs" / "assistant-cli.jsonl")
        return Report(
            rate=rate, seconds=seconds, chats=chats, workers=workers, tokens=tokens,
            token_delay_ms=token_delay * 1000, pushed=total, answered=len(seen),
            lost=sum(1 for k in pushed if k not in seen),
            answered_twice=sum(1 for times in seen.values() if len(times) > 1),
            answered_per_s=round(len(seen) / spent, 1) if firsts else 0.0,
            latency_p50_ms=percentile(latencies, 50), latency_p99_ms=percentile(latencies, 99),
            overhead_p50_ms=percentile(over, 50), overhead_p99_ms=percentile(over, 99),
            overhead_samples=len(over),
            serve_cpu_percent=round(100 * busy / wall, 1) if wall > 0 else 0.0,
            bench_cpu_percent=round(100 * bench / wall, 1) if wall > 0 else 0.0,
            model_cpu_percent=round(100 * model_cpu / wall, 1) if wall > 0 else 0.0,
        )


def render(report: Report) -> None:
    model_ms = report.tokens * report.token_delay_ms
    rows = [
        ("pushed", f"{report.pushed}", f"{report.rate:g}/s for {report.seconds:g} s "
                                       f"across {report.chats} chats"),
        ("answered", f"{report.answered}", f"{report.answered_per_s:g} messages/s"),
        ("lost", f"{report.lost}", "must be 0"),
        ("answered twice", f"{report.answered_twice}", "must be 0"),
        ("end-to-end P50", f"{report.latency_p50_ms:.1f} ms",
         f"push → final sendMessage; model alone ≈ {model_ms:.0f} ms"),
        ("end-to-end P99", f"{report.latency_p99_ms:.1f} ms", "service level: < 500 ms"),
        ("overhead P50", f"{report.overhead_p50_ms:.1f} ms",
         f"from {report.overhead_samples} message.done events"),
        ("overhead P99", f"{report.overhead_p99_ms:.1f} ms", "design target: < 10 ms"),
        ("serve CPU", f"{report.serve_cpu_percent:.1f} %", "of one core, while pushing"),
        ("harness CPU", f"{report.bench_cpu_percent:.1f} % + {report.model_cpu_percent:.1f} %",
         "fake Bot API and load + fake model"),
    ]
    print(f"assistant-cli telegram e2e · Python {platform.python_version()} · "
          f"{report.workers} workers · model {report.tokens} tokens x "
          f"{report.token_delay_ms:g} ms")
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=50.0, help="messages per second (50)")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long to push (10)")
    parser.add_argument("--chats", type=int, default=20, help="chats to spread over (20)")
    parser.add_argument("--workers", type=int, default=32,
                        help="assistant.workers (32, the default)")
    parser.add_argument("--tokens", type=int, default=10, help="tokens per answer (10)")
    parser.add_argument("--token-delay", type=float, default=0.005,
                        help="seconds between tokens (0.005)")
    parser.add_argument("--drain", type=float, default=30.0,
                        help="seconds to wait for the last answers (30)")
    parser.add_argument("--tree", type=Path, default=None,
                        help="run serve from this source tree (e.g. a worktree of an older "
                             "commit) with this interpreter's packages")
    parser.add_argument("--fakes-in-process", action="store_true",
                        help="run the fake model in this process too (as before), to see what "
                             "sharing the interpreter costs")
    parser.add_argument("--json", action="store_true", help="print machine-readable results")
    args = parser.parse_args(argv)
    if args.rate <= 0 or args.seconds <= 0 or args.chats < 1 or args.tokens < 1:
        parser.error("--rate, --seconds, --chats and --tokens must be positive")
    report = run(args.rate, args.seconds, args.chats, args.workers, args.tokens,
                 args.token_delay, args.drain, args.tree and args.tree.resolve(),
                 args.fakes_in_process)
    if args.json:
        print(json.dumps(asdict(report), indent=2))
    else:
        render(report)
    return 1 if report.lost or report.answered_twice else 0


if __name__ == "__main__":
    sys.exit(main())
