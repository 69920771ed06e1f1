"""Soak: `serve`'s resident memory over time at a steady message rate (default 20 msg/s).

Same set-up as telegram_e2e.py (a fake Bot API and a fake OpenAI server in this process,
`assistant-cli serve` as a child with `dm_policy: open`). Every `--every` seconds the
child's VmRSS is read from /proc; at the end the curve is printed with the spread of the
readings after `--warmup` seconds. The issue's target: flat within 5 % after warm-up over
30 minutes (`--seconds 1800`); shorter runs show the trend, not the proof.
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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.fake_model import model_server  # noqa: E402 - needs ROOT on sys.path
from benchmarks.telegram_e2e import FIRST_CHAT, start_serve, write_config  # noqa: E402
from tests.fakes.telegram_server import FakeTelegram  # noqa: E402


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc (Linux only)")


Sample = tuple[float, float, int, int]  # seconds since start, RSS MB, pushed, answered


def answered(tg: FakeTelegram) -> int:
    return sum(1 for c in tg.log if c.method == "sendMessage" and c.status == 200)


def soak(rate: float, seconds: float, every: float, chats: int) -> list[Sample]:
    """A sample every `every` seconds, and one at the end."""
    token = f"{random.randint(10**8, 10**9 - 1)}:{secrets.token_urlsafe(27)}"
    with FakeTelegram(token=token) as tg, model_server(token_delay=0.001) as model, \
            tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        home = Path(tmp)
        write_config(home, tg, model, workers=32)
        env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
        env.update(ASSISTANT_CLI_HOME=str(home), NO_COLOR="1", PYTHONUNBUFFERED="1",
                   TG_TOKEN=token, FAKE_OPENAI_KEY=model.api_key,
                   ASSISTANT_CLI_KEYRING_PASSWORD="benchmark-only")
        proc = start_serve(home, env)
        curve: list[Sample] = []
        try:
            started = time.monotonic()
            next_sample, pushed = started, 0
            while (now := time.monotonic()) - started < seconds:
                if now >= next_sample:
                    curve.append((round(now - started), rss_mb(proc.pid), pushed,
                                  answered(tg)))
                    print(f"{curve[-1][0]:6.0f} s  {curve[-1][1]:7.1f} MB  {pushed} pushed",
                          file=sys.stderr, flush=True)
                    next_sample += every
                due = started + pushed / rate
                if due > now:
                    time.sleep(min(due - now, max(0.0, next_sample - now)))
                    continue
                tg.push_message(FIRST_CHAT + pushed % chats, f"m{pushed}")
                pushed += 1
            time.sleep(2.0)  # the last answers
            curve.append((round(time.monotonic() - started), rss_mb(proc.pid), pushed,
                          answered(tg)))
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
    return curve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=20.0, help="messages per second (20)")
    parser.add_argument("--seconds", type=float, default=1800.0, help="soak length (1800)")
    parser.add_argument("--every", type=float, default=30.0, help="RSS sample interval (30)")
    parser.add_argument("--warmup", type=float, default=120.0,
                        help="seconds before the flatness is judged (120)")
    parser.add_argument("--chats", type=int, default=20, help="chats to spread over (20)")
    parser.add_argument("--json", action="store_true", help="print the curve as JSON")
    args = parser.parse_args(argv)
    curve = soak(args.rate, args.seconds, args.every, args.chats)
    after = [mb for t, mb, _, _ in curve if t >= args.warmup]
    spread = (max(after) - min(after)) / min(after) * 100 if after else float("nan")
    if args.json:
        print(json.dumps({"rate": args.rate, "seconds": args.seconds, "curve": curve,
                          "spread_after_warmup_percent": round(spread, 1)}))
    else:
        print(f"serve RSS at {args.rate:g} msg/s for {args.seconds:g} s "
              f"(sample every {args.every:g} s)")
        for t, mb, pushed, done in curve:
            print(f"  {t:6.0f} s  {mb:7.1f} MB  {pushed:7d} pushed  {done:7d} answered")
        print(f"spread after {args.warmup:g} s warm-up: {spread:.1f} % (target: within 5 %)")
    return 0 if spread <= 5 else 1


if __name__ == "__main__":
    sys.exit(main())
