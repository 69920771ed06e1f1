"""Load curve over Telegram: P50/P99, answered %, serve CPU and RSS at rising rates.

Each rate runs for a fixed time against a fresh `serve` (fake Bot API and a zero-delay fake
model in this process, as in telegram_e2e.py). Give several source trees with `--tree` (a
git worktree of an older commit, say) to compare them in one run: for each rate every tree
runs in turn, so the machine's other load hits them alike. The sustained rate of a tree is
the highest rate at which P99 < 500 ms and ≥ 99.9 % of the messages were answered.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.fake_model import model_server  # noqa: E402
from benchmarks.telegram_e2e import (  # noqa: E402 - needs ROOT on sys.path
    FIRST_CHAT,
    KEY_RE,
    cpu_seconds,
    percentile,
    serve_command,
    start_serve,
    write_config,
)
from tests.fakes.telegram_server import FakeTelegram  # noqa: E402

P99_LIMIT_MS = 500.0
ANSWERED_MIN = 99.9


@dataclass
class Point:
    """One tree at one rate."""

    tree: str
    rate: float
    pushed: int
    answered_pct: float
    answered_twice: int
    p50_ms: float
    p99_ms: float  # unanswered messages count as infinitely late
    serve_cpu_pct: float  # of one core, from the first push to the last answer
    cpu_ms_per_msg: float  # serve's CPU time per answered message: the least noisy figure
    bench_cpu_pct: float  # this process (fake Bot API + load): near 100 % means it is the limit
    model_cpu_pct: float  # the fake model's own process (0 with --fakes-in-process)
    steal_pct: float  # CPU time the hypervisor gave to other guests: high makes all slow
    idle_rss_mb: float  # serve 1 s after ready, before the load
    rss_mb: float  # serve after the load
    rss_samples: list[float] = field(default_factory=list)  # every 10 s of the load

    @property
    def ok(self) -> bool:
        return self.p99_ms < P99_LIMIT_MS and self.answered_pct >= ANSWERED_MIN


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return float("nan")


def cpu_ticks() -> tuple[int, int]:
    """(steal, total) ticks of all CPUs so far, from /proc/stat ((0, 0) elsewhere)."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    return (fields[7] if len(fields) > 7 else 0), sum(fields)


def answers(tg: FakeTelegram) -> dict[str, list[float]]:
    """Arrival times of the final sendMessage of each answered key."""
    seen: dict[str, list[float]] = {}
    for call in tg.log:
        if call.method == "sendMessage" and call.status == 200:
            match = KEY_RE.search(str(call.params.get("text", "")))
            if match:
                seen.setdefault(match.group(1), []).append(call.timestamp)
    return seen


def push(tg: FakeTelegram, rate: float, seconds: float, chats: int,
         every_10s: Callable[[], None] = lambda: None) -> dict[str, float]:
    pushed: dict[str, float] = {}
    started = time.monotonic()
    for i in range(int(rate * seconds)):
        if i and i % int(rate * 10) == 0:
            every_10s()
        delay = started + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        key = f"m{i}"
        pushed[key] = time.time()
        tg.push_message(FIRST_CHAT + i % chats, key)
    return pushed


def profiler(pid: int, out: Path | None, seconds: float) -> subprocess.Popen[bytes] | None:
    """py-spy (a dev tool: `pip install py-spy`) sampling serve while the load runs."""
    if out is None:
        return None
    return subprocess.Popen(["py-spy", "record", "--pid", str(pid), "--format", "raw",
                             "--rate", "200", "--duration", str(max(1, int(seconds))),
                             "--output", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def run(tree: Path, rate: float, seconds: float, chats: int, workers: int,
        drain: float, profile: Path | None = None, fakes_in_process: bool = False,
        env_secrets: bool = False) -> Point:
    token = f"{random.randint(10**8, 10**9 - 1)}:{secrets.token_urlsafe(27)}"
    with FakeTelegram(token=token) as tg, model_server(in_process=fakes_in_process) as model, \
            tempfile.TemporaryDirectory(prefix="load-curve-") as tmp:
        home = Path(tmp)
        write_config(home, tg, model, workers)
        env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
        env.update(ASSISTANT_CLI_HOME=str(home), NO_COLOR="1", PYTHONUNBUFFERED="1",
                   TG_TOKEN=token, FAKE_OPENAI_KEY=model.api_key)
        if not env_secrets:  # the gateway's signing key goes to the encrypted-file keyring
            env["ASSISTANT_CLI_KEYRING_PASSWORD"] = "benchmark-only"
        proc = start_serve(home, env, serve_command(tree))
        try:
            time.sleep(1.0)
            idle = rss_mb(proc.pid)
            cpu0, bench0, wall0 = cpu_seconds(proc.pid), time.process_time(), time.monotonic()
            model0, ticks0 = model.cpu_seconds(), cpu_ticks()
            spy = profiler(proc.pid, profile, seconds)
            samples: list[float] = []
            pushed = push(tg, rate, seconds, chats, lambda: samples.append(rss_mb(proc.pid)))
            if spy is not None:
                spy.wait(30)
            deadline = time.monotonic() + drain
            while len(answers(tg)) < len(pushed) and time.monotonic() < deadline:
                time.sleep(0.2)
            wall = time.monotonic() - wall0
            busy, bench = cpu_seconds(proc.pid) - cpu0, time.process_time() - bench0
            model_cpu = model.cpu_seconds() - model0
            ticks = cpu_ticks()
            steal = 100 * (ticks[0] - ticks0[0]) / max(1, ticks[1] - ticks0[1])
            loaded = rss_mb(proc.pid)
            time.sleep(0.5)  # late duplicates would show up now
            seen = answers(tg)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
    latencies = [(seen[k][0] - t) * 1000 if k in seen else float("inf")
                 for k, t in pushed.items()]
    return Point(
        tree=str(tree), rate=rate, pushed=len(pushed),
        answered_pct=round(100 * sum(1 for k in pushed if k in seen) / len(pushed), 2),
        answered_twice=sum(1 for times in seen.values() if len(times) > 1),
        p50_ms=percentile(latencies, 50), p99_ms=percentile(latencies, 99),
        serve_cpu_pct=round(100 * busy / wall, 1),
        cpu_ms_per_msg=round(1000 * busy / max(1, len(seen)), 2),
        bench_cpu_pct=round(100 * bench / wall, 1),
        model_cpu_pct=round(100 * model_cpu / wall, 1), steal_pct=round(steal, 1),
        idle_rss_mb=idle, rss_mb=loaded, rss_samples=samples)


def sustained(points: list[Point], tree: str) -> float:
    """The highest rate that held, below the first one that did not."""
    best = 0.0
    for point in sorted((p for p in points if p.tree == tree), key=lambda p: p.rate):
        if not point.ok:
            break
        best = point.rate
    return best


def render(points: list[Point], trees: list[str]) -> None:
    header = ("tree", "rate/s", "answered %", "P50 ms", "P99 ms", "serve CPU %",
              "CPU ms/msg", "bench CPU %", "model CPU %", "steal %", "idle RSS MB", "RSS MB",
              "twice")
    rows = [header] + [
        (p.tree, f"{p.rate:g}", f"{p.answered_pct:g}", f"{p.p50_ms:.0f}", f"{p.p99_ms:.0f}",
         f"{p.serve_cpu_pct:g}", f"{p.cpu_ms_per_msg:g}", f"{p.bench_cpu_pct:g}",
         f"{p.model_cpu_pct:g}", f"{p.steal_pct:g}",
         f"{p.idle_rss_mb:g}", f"{p.rss_mb:g}",
         str(p.answered_twice)) for p in points]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        print("  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)))
    for tree in trees:
        print(f"sustained (P99 < {P99_LIMIT_MS:g} ms, ≥ {ANSWERED_MIN} % answered): "
              f"{sustained(points, tree):g} msg/s  {tree}")


def soak(trees: list[Path], rate: float, args: argparse.Namespace) -> int:
    """RSS over a long run: flat after warm-up (the first minute) is the target."""
    for tree in trees:
        point = run(tree, rate, args.soak, args.chats, args.workers, args.drain,
                    fakes_in_process=args.fakes_in_process, env_secrets=args.env_secrets)
        warm = point.rss_samples[5:] or point.rss_samples
        growth = 100 * (warm[-1] - warm[0]) / warm[0] if warm else float("nan")
        print(json.dumps({**asdict(point), "rss_growth_after_warmup_pct": round(growth, 1)}))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", action="append", type=Path, default=None,
                        help="source tree to run serve from (repeat to compare; default: "
                             "this checkout)")
    parser.add_argument("--rates", default="50,100,200,300,400,500,600,800",
                        help="messages per second, comma-separated")
    parser.add_argument("--seconds", type=float, default=10.0, help="push time per rate (10)")
    parser.add_argument("--chats", type=int, default=50, help="chats to spread over (50)")
    parser.add_argument("--workers", type=int, default=32,
                        help="assistant.workers (32, the default)")
    parser.add_argument("--drain", type=float, default=10.0,
                        help="seconds to wait for the last answers after pushing (10)")
    parser.add_argument("--keep-going", action="store_true",
                        help="run the higher rates of a tree even after a rate failed")
    parser.add_argument("--profile", type=Path, default=None, metavar="DIR",
                        help="record py-spy stacks of serve (collapsed format) per tree and "
                             "rate into DIR")
    parser.add_argument("--soak", type=float, default=None, metavar="SECONDS",
                        help="instead of the curve: run each tree at the first rate this long "
                             "and report serve's RSS every 10 s")
    parser.add_argument("--fakes-in-process", action="store_true",
                        help="run the fake model in this process too (as before), to see what "
                             "sharing the interpreter costs the figures")
    parser.add_argument("--env-secrets", action="store_true",
                        help="no encrypted-file keyring: env: references only, as on a VPS "
                             "without a keyring (the gateway's signing key then lives in "
                             "serve's memory)")
    parser.add_argument("--json", action="store_true", help="print machine-readable results")
    args = parser.parse_args(argv)
    trees = [t.resolve() for t in (args.tree or [ROOT])]
    rates = [float(r) for r in args.rates.split(",") if r.strip()]
    if args.soak is not None:
        return soak(trees, rates[0], args)
    points: list[Point] = []
    failed: set[str] = set()
    for rate in rates:
        for tree in trees:
            if str(tree) in failed:
                continue
            out = None
            if args.profile is not None:
                args.profile.mkdir(parents=True, exist_ok=True)
                out = args.profile / f"{tree.name}-{rate:g}.txt"
            point = run(tree, rate, args.seconds, args.chats, args.workers, args.drain, out,
                        args.fakes_in_process, args.env_secrets)
            points.append(point)
            print(json.dumps(asdict(point)), file=sys.stderr, flush=True)
            if not point.ok and not args.keep_going:
                failed.add(str(tree))
    if args.json:
        print(json.dumps({"points": [asdict(p) for p in points],
                          "sustained": {str(t): sustained(points, str(t)) for t in trees}},
                         indent=2))
    else:
        render(points, [str(t) for t in trees])
    return 1 if any(p.answered_twice for p in points) else 0


if __name__ == "__main__":
    sys.exit(main())
