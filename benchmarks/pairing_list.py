"""`pairing list` benchmark: wall time with many approved senders, piped and as JSON.

Target (issue 14): with 1,000 approved senders, `assistant-cli pairing list` piped to
another program takes at most 200 ms. Everything runs in a scratch ASSISTANT_CLI_HOME; the
senders are written through `PairingStore.allow`, as `pairing allow` would.

    python benchmarks/pairing_list.py                 # 1,000 senders, 10 runs per mode
    python benchmarks/pairing_list.py --senders 5000 --runs 5 --json
    python benchmarks/pairing_list.py --tree /tmp/old --tree .   # old against new, one run
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.telegram_e2e import serve_command  # noqa: E402 - needs ROOT on sys.path

TARGET_MS = 200.0


def cli() -> list[str]:
    script = Path(sys.executable).parent / "assistant-cli"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "assistant_cli"]


def seed(home: Path, senders: int) -> None:
    """Approve `senders` Telegram users in the state database under `home`."""
    os.environ["ASSISTANT_CLI_HOME"] = str(home)
    from assistant_cli.paths import resolve
    from assistant_cli.store.db import Database
    from assistant_cli.store.pairing import PairingStore

    store = PairingStore(Database(resolve(None).database))
    for i in range(senders):
        store.allow("telegram", str(100_000_000 + i), "bench", display_name=f"user {i}")


def time_runs(args: list[str], env: dict[str, str], runs: int) -> list[float]:
    """Wall times in ms of `runs` runs with stdout to a pipe (one untimed warm-up)."""
    out: list[float] = []
    for i in range(runs + 1):
        start = time.perf_counter()
        proc = subprocess.run(args, env=env, capture_output=True, check=False)
        elapsed = (time.perf_counter() - start) * 1000
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(args)} failed: {proc.stderr.decode()}")
        if i:
            out.append(elapsed)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--senders", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--tree", action="append", type=Path, default=None,
                        help="run the CLI of this source tree (a worktree of an older commit) "
                             "with this interpreter's packages, via `python -c`; repeat to "
                             "compare trees in one run")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    opts = parser.parse_args()
    commands = {"": cli()} if not opts.tree else {
        f" {tree.resolve().name}": serve_command(tree.resolve()) for tree in opts.tree}
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        seed(home, opts.senders)
        env = {**os.environ, "ASSISTANT_CLI_HOME": str(home)}
        results = {}
        for mode, extra in (("piped", []), ("json", ["--json"])):
            for name, command in commands.items():
                times = time_runs([*command, "pairing", "list", *extra], env, opts.runs)
                results[mode + name] = {"median_ms": round(statistics.median(times), 1),
                                        "min_ms": round(min(times), 1)}
        base = time_runs([sys.executable, "-c", "pass"], env, opts.runs)
        results["python -c pass"] = {"median_ms": round(statistics.median(base), 1),
                                     "min_ms": round(min(base), 1)}
    if opts.json:
        print(json.dumps({"senders": opts.senders, "target_ms": TARGET_MS, **results}))
    else:
        print(f"pairing list with {opts.senders} approved senders ({opts.runs} runs)")
        for mode, r in results.items():
            print(f"  {mode:<22} median {r['median_ms']:7.1f} ms   min {r['min_ms']:7.1f} ms")
    piped = [r["median_ms"] for mode, r in results.items() if mode.startswith("piped")]
    return 0 if piped[-1] <= TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
