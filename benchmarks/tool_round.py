"""Our overhead per tool round, and what MCP servers cost `serve` at start and in memory.

    python benchmarks/tool_round.py                 # 300 turns each way, 3 serve starts
    python benchmarks/tool_round.py --turns 100 --serve-runs 2 --json

1. Overhead per tool round: the same in-process turn (TurnRunner, SQLite state, the fake
   OpenAI server from tests/fakes over loopback HTTP) answered once plainly and once with
   one tool round (the model streams a tool call, a trivial tool runs, the model answers).
   A turn's overhead is its time minus the time spent waiting for the model's stream and
   in the tool itself (what `message.out` reports as overhead_ms). The round's overhead is
   the difference between the two runs, by percentile.
2. `serve` start-to-ready (the "assistant-cli ready" line) with two stdio MCP servers
   configured (tests/fakes/mcp_app.py, written with the SDK's MCPServer) against without.
3. RSS added per MCP server: serve's own VmRSS and its children's (the servers), 1 s after
   ready, with two servers against none, divided by two.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


async def turns(n: int, with_tool: bool) -> list[float]:
    from assistant_cli.store.db import Database
    from assistant_cli.tools.base import tool
    from tests.fakes.openai_server import FakeOpenAI, Reply, ToolCalls
    from tests.tool_support import ToolChannel, build_rig, tools_config

    @tool(name="bench.echo")
    async def echo(text: str) -> str:
        """Echo the text."""
        return text

    overheads = []
    with FakeOpenAI() as fake, tempfile.TemporaryDirectory() as tmp:
        rig = build_rig(Database(Path(tmp) / "s.db"), tools_config(fake.base_url), [echo])
        channel = ToolChannel()
        for i in range(n):
            if with_tool:
                fake.enqueue(ToolCalls(((f"c{i}", "bench__echo", '{"text": "hi"}'),)),
                             Reply("done"))
            else:
                fake.enqueue(Reply("done"))
            outcome = await rig.runner.run(rig.item("go", ext=str(i)), channel)
            assert outcome.name == "answered", outcome
            if i >= 10:  # warm-up
                overheads.append(outcome.overhead_ms)
        await rig.runner.router.aclose()
    return overheads


def mcp_config(home: Path, servers: int) -> None:
    text = "platforms:\n  console: {enabled: true}\ngateway: {port: 0}\n"
    if servers:
        text += "tools:\n  mcp_servers:\n"
        for i in range(servers):
            text += (f"    s{i}: {{command: {json.dumps(sys.executable)}, args: [-m,"
                     f" tests.fakes.mcp_app, stdio], cwd: {json.dumps(str(ROOT))}}}\n")
    (home / "config.yaml").write_text(text)


def rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        kids = (task / "children").read_text().split()
        out += [int(k) for k in kids]
    return out + [g for k in list(out) for g in children(k)]


def serve_once(servers: int) -> tuple[float, int, int]:
    """(ms to ready, serve RSS kB, children RSS kB)."""
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        mcp_config(home, servers)
        env = {**os.environ, "ASSISTANT_CLI_HOME": str(home), "NO_COLOR": "1",
               "PYTHONPATH": str(ROOT)}
        started = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "assistant_cli", "serve"],
                                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, env=env, cwd=ROOT, text=True)
        assert proc.stderr is not None
        ready = None
        for line in proc.stderr:
            if "assistant-cli ready" in line:
                ready = (time.monotonic() - started) * 1000
                break
        assert ready is not None, "serve did not get ready"
        time.sleep(1.0)
        own = rss_kb(proc.pid)
        kids = sum(rss_kb(k) for k in children(proc.pid))
        proc.terminate()
        proc.wait(15)
        return ready, own, kids


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=300)
    parser.add_argument("--serve-runs", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    plain = asyncio.run(turns(args.turns, with_tool=False))
    tooled = asyncio.run(turns(args.turns, with_tool=True))
    result: dict[str, Any] = {"turns": len(plain)}
    for p in (50, 99):
        result[f"plain_overhead_p{p}_ms"] = round(pct(plain, p), 2)
        result[f"tool_turn_overhead_p{p}_ms"] = round(pct(tooled, p), 2)
        result[f"per_tool_round_p{p}_ms"] = round(pct(tooled, p) - pct(plain, p), 2)
    runs = {n: [serve_once(n) for _ in range(args.serve_runs)] for n in (0, 2)}
    for n, rows in runs.items():
        result[f"serve_ready_ms_{n}_mcp"] = round(statistics.median(r[0] for r in rows))
        result[f"serve_rss_mb_{n}_mcp"] = round(statistics.median(r[1] for r in rows) / 1024, 1)
        result[f"children_rss_mb_{n}_mcp"] = round(
            statistics.median(r[2] for r in rows) / 1024, 1)
    added = ((result["serve_rss_mb_2_mcp"] + result["children_rss_mb_2_mcp"])
             - (result["serve_rss_mb_0_mcp"] + result["children_rss_mb_0_mcp"])) / 2
    result["rss_mb_added_per_mcp_server"] = round(added, 1)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            print(f"{key:32} {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
