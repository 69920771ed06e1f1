"""Handler pipeline overhead per message, and start-up cost of installed plugins.

    python benchmarks/handler_pipeline.py                 # 20000 messages, 5 no-op handlers
    python benchmarks/handler_pipeline.py --messages 5000 --handlers 5

Part 1 times `HandlerPipeline.run` (what a turn adds before the model) for N no-op
handlers against the same loop with none, per message, and reports P50/P99/max.
Part 2 times `assistant-cli --help` and serve's plugin loading (`load_plugins`, nothing
enabled) with and without ten installed plugin packages on the path: plugins are found
through entry-point metadata and imported only when enabled, so both should not move.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant_cli.engine.pipeline import HandlerPipeline  # noqa: E402
from assistant_cli.plugin import Handler, HandlerContext, InboundMessage, Pass  # noqa: E402
from assistant_cli.plugins.loading import LoadedHandler  # noqa: E402
from assistant_cli.testing import MemoryStore, fake_message  # noqa: E402


class NoOp(Handler):
    name = "noop"

    async def handle(self, message: InboundMessage, ctx: HandlerContext) -> Pass:
        return Pass()


async def _send(chat_id: str, text: str) -> None:
    return None


async def per_message(handlers: int, messages: int) -> list[float]:
    loaded = [LoadedHandler(f"noop{i}", "bench", NoOp(), 5.0) for i in range(handlers)]
    pipeline = HandlerPipeline(loaded, lambda name: MemoryStore())
    msg = fake_message("hello there")
    times = []
    for _ in range(messages):
        t0 = time.perf_counter()
        await pipeline.run(msg, "en", _send)
        times.append((time.perf_counter() - t0) * 1000)
    return times


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def fake_plugins(site: Path, count: int) -> None:
    for i in range(count):
        info = site / f"assistant_cli_bench{i}-1.0.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: assistant-cli-bench{i}\n"
                                       "Version: 1.0\n")
        (info / "entry_points.txt").write_text(
            f"[assistant_cli.handlers]\nbench{i} = bench_plugin{i}:H\n")
        # Importing this would cost 50 ms: it shows up if anything imports plugins eagerly.
        (site / f"bench_plugin{i}.py").write_text("import time\ntime.sleep(0.05)\n")


def timed(cmd: list[str], env: dict[str, str], runs: int) -> float:
    subprocess.run(cmd, env=env, capture_output=True, check=True)
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, env=env, capture_output=True, check=True)
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples)


def startup(runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        site, home = Path(tmp) / "site", Path(tmp) / "home"
        fake_plugins(site, 10)
        home.mkdir()
        (home / "config.yaml").write_text("version: 1\n")
        base = {**os.environ, "ASSISTANT_CLI_HOME": str(home)}
        loading = ("from assistant_cli.app.serve import load_plugins;"
                   "from assistant_cli.config.loader import load_config;"
                   "from assistant_cli.paths import resolve; p = resolve();"
                   "load_plugins(load_config(p.config_file), p)")
        for label, cmd in (("--help", [sys.executable, "-m", "assistant_cli", "--help"]),
                           ("serve plugin loading", [sys.executable, "-c", loading])):
            without = timed(cmd, {**base, "PYTHONPATH": str(ROOT)}, runs)
            with_ten = timed(cmd, {**base, "PYTHONPATH": f"{site}:{ROOT}"}, runs)
            print(f"{label:22} without plugins {without:7.1f} ms   with 10 installed "
                  f"{with_ten:7.1f} ms   (median of {runs})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--handlers", type=int, default=5)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    base = asyncio.run(per_message(0, args.messages))
    with_handlers = asyncio.run(per_message(args.handlers, args.messages))
    print(f"pipeline, {args.messages} messages      P50 ms   P99 ms   max ms")
    for label, values in (("no handlers", base), (f"{args.handlers} no-op handlers",
                                                  with_handlers)):
        print(f"  {label:28} {pct(values, 0.5):7.3f}  {pct(values, 0.99):7.3f}  "
              f"{max(values):7.3f}")
    print(f"  overhead P99 of {args.handlers} handlers: "
          f"{pct(with_handlers, 0.99) - pct(base, 0.99):.3f} ms (target <= 1 ms)")
    startup(args.runs)


if __name__ == "__main__":
    main()
