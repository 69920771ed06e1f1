"""WhatsApp end-to-end benchmark: webhook acknowledgement and answer latency through `serve`.

A fake Graph API and a fake OpenAI server run in this process; `assistant-cli serve` runs
as a child with `dm_policy: open`. Signed webhooks are posted at a steady rate from several
senders, and for every answer the fake Graph posts a "sent" and a "delivered" status
webhook back, as Meta does. The acknowledgement time is POST → 200 (the message is on disk
by then); an answer counts when its text reaches the fake Graph API. From serve's JSON log:
`turn` (claim → done, per message) and `overhead` (the turn minus waiting for the model).
Workers answer `workers / turn` messages per second; above that, messages queue and the
answer time grows while `turn` does not.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.fakes.openai_server import FakeOpenAI  # noqa: E402 - needs ROOT on sys.path
from tests.fakes.whatsapp_server import (  # noqa: E402
    ACCESS_TOKEN,
    APP_SECRET,
    BUSINESS_ID,
    DISPLAY_NUMBER,
    PHONE_NUMBER_ID,
    VERIFY_TOKEN,
    FakeGraph,
    signed,
    text_payload,
)

READY_RE = re.compile(r"assistant-cli ready · .*gateway: http://127\.0\.0\.1:(\d+)")


def pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def serve_log_stats(log: Path) -> tuple[list[float], list[float]]:
    """Turn latency and overhead of every answered message, from serve's JSON log."""
    turns: list[float] = []
    overhead: list[float] = []
    for line in log.read_text().splitlines():
        entry = json.loads(line)
        if entry.get("event") == "message.done" and "overhead_ms" in entry:
            turns.append(float(entry["latency_ms"]))
            overhead.append(float(entry["overhead_ms"]))
    return turns, overhead


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=50.0, help="webhooks per second")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--senders", type=int, default=20)
    parser.add_argument("--workers", type=int, default=4, help="assistant.workers for serve")
    parser.add_argument("--no-statuses", dest="statuses", action="store_false",
                        help="do not post sent/delivered status webhooks for each answer")
    parser.add_argument("--keep", action="store_true", help="keep the scratch home (logs)")
    args = parser.parse_args()

    import httpx

    home = Path(tempfile.mkdtemp(prefix="wa-bench-"))
    with FakeGraph() as graph, FakeOpenAI() as openai:
        (home / "config.yaml").write_text(
            "platforms:\n  whatsapp:\n"
            f"    business_id: '{BUSINESS_ID}'\n    phone_number: '{DISPLAY_NUMBER}'\n"
            f"    phone_number_id: '{PHONE_NUMBER_ID}'\n    access_token: env:WA_TOKEN\n"
            "    app_secret: env:WA_APP_SECRET\n    verify_token: env:WA_VERIFY_TOKEN\n"
            f"    graph_base_url: {graph.base_url}\n    dm_policy: open\n"
            f"providers:\n  fake: {{base_url: '{openai.base_url}', model: {openai.model}, "
            "api_key: env:K}\n"
            f"assistant: {{workers: {args.workers}}}\n"
            "gateway: {port: 0}\nlogging: {level: info}\n", encoding="utf-8")
        env = {**os.environ, "ASSISTANT_CLI_HOME": str(home),
               "WA_TOKEN": ACCESS_TOKEN, "WA_APP_SECRET": APP_SECRET,
               "WA_VERIFY_TOKEN": VERIFY_TOKEN, "K": openai.api_key or "",
               "ASSISTANT_CLI_KEYRING_PASSWORD": "benchmark"}
        err = (home / "serve.stderr").open("wb")
        proc = subprocess.Popen([sys.executable, "-m", "assistant_cli", "serve"],
                                stdin=subprocess.DEVNULL, stdout=err, stderr=err, env=env)
        try:
            port = 0
            deadline = time.monotonic() + 15
            while not port and time.monotonic() < deadline:
                match = READY_RE.search((home / "serve.stderr").read_text("utf-8", "replace"))
                port = int(match.group(1)) if match else 0
                time.sleep(0.02)
            if not port:
                sys.exit("serve did not start:\n" + (home / "serve.stderr").read_text())
            url = f"http://127.0.0.1:{port}/webhooks/whatsapp"
            if args.statuses:
                graph.webhook_url = url
            cpu_before = _cpu_seconds(proc.pid)
            own_before = time.process_time()
            acks: list[float] = []
            pushed: dict[str, float] = {}
            total = int(args.rate * args.seconds)
            started = time.monotonic()
            with httpx.Client(timeout=10) as client:
                for i in range(total):
                    due = started + i / args.rate
                    time.sleep(max(0.0, due - time.monotonic()))
                    wa_id = f"1555{i % args.senders:07d}"
                    text = f"m{i}"
                    raw, headers = signed(text_payload(wa_id, text), APP_SECRET)
                    pushed[text] = time.time()  # the fake stamps answers with time.time()
                    t0 = time.monotonic()
                    resp = client.post(url, content=raw, headers=headers)
                    acks.append((time.monotonic() - t0) * 1000)
                    assert resp.status_code == 200, resp.text
            graph.wait_for(lambda g: len(g.sent) >= total, timeout=30)
            elapsed = time.monotonic() - started
            cpu = (_cpu_seconds(proc.pid) - cpu_before) / elapsed * 100
            # The fakes and the load run in this process: when it is busy, it is the
            # bottleneck, not serve.
            own_cpu = (time.process_time() - own_before) / elapsed * 100
            answers: dict[str, list[float]] = {}
            for sent in graph.sent:
                key = sent.text.removeprefix("echo: ")
                answers.setdefault(key, []).append(sent.at)
            e2e = [(answers[k][0] - t) * 1000 for k, t in pushed.items() if k in answers]
            turns, overhead = serve_log_stats(home / "state" / "logs" / "assistant-cli.jsonl")
            print(json.dumps({
                "pushed": total, "answered": len(answers),
                "lost": total - len(answers),
                "answered_twice": sum(1 for v in answers.values() if len(v) > 1),
                "ack_p50_ms": pct(acks, 0.5), "ack_p99_ms": pct(acks, 0.99),
                "answer_p50_ms": pct(e2e, 0.5), "answer_p99_ms": pct(e2e, 0.99),
                "turn_p50_ms": pct(turns, 0.5), "turn_p99_ms": pct(turns, 0.99),
                "overhead_p50_ms": pct(overhead, 0.5), "overhead_p99_ms": pct(overhead, 0.99),
                "serve_cpu_pct": round(cpu, 1), "bench_cpu_pct": round(own_cpu, 1),
                "rate": args.rate, "senders": args.senders, "workers": args.workers,
                "statuses": args.statuses}, indent=2))
        finally:
            proc.terminate()
            proc.wait(15)
            err.close()
            if args.keep:
                print(f"logs kept in {home}", file=sys.stderr)
            else:
                shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
