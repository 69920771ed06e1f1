"""Doctor benchmark: wall time and peak memory of `assistant-cli doctor --offline`.

Target (issue 7): offline checks under 1 s. Three set-ups, each in a scratch
ASSISTANT_CLI_HOME:

- first run: no config, no state (every check that needs them fails or is skipped);
- configured, env: secrets: a config with providers, Telegram and WhatsApp whose secrets
  are env: references, a state database of `--rows` history rows with audit entries, and
  the encrypted-file keyring (ASSISTANT_CLI_KEYRING_PASSWORD) holding the audit key;
- configured, keyring secrets: the same with keyring: references, so every secret check
  opens the encrypted file (its scrypt key derivation runs once per process).

Peak RSS is the child's ru_maxrss from wait4(). Linux only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

TARGET_MS = 1000.0
PASSWORD = "benchmark-keyring-password"


@dataclass
class Sample:
    wall_ms: float
    peak_rss_mb: float
    exit_code: int


@dataclass
class Result:
    setup: str
    median_ms: float
    min_ms: float
    max_ms: float
    peak_rss_mb: float
    exit_code: int
    status: str


def cli() -> list[str]:
    script = Path(sys.executable).parent / "assistant-cli"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "assistant_cli"]


def env_for(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env.pop("ASSISTANT_CLI_CONFIG", None)
    env.update(ASSISTANT_CLI_HOME=str(home), ASSISTANT_CLI_KEYRING_PASSWORD=PASSWORD,
               NO_COLOR="1", COLUMNS="160", TG_TOKEN="123456:" + "A" * 35,
               OPENAI_KEY="sk-" + "b" * 40, WA_TOKEN="EAAG" + "c" * 40, WA_SECRET="d" * 32,
               WA_VERIFY="e" * 20, JWT_SECRET="f" * 48)
    return env


def write_config(home: Path, refs: str) -> None:
    def ref(env_name: str, keyring_name: str) -> str:
        return f"env:{env_name}" if refs == "env" else f"keyring:{keyring_name}"

    (home / "config.yaml").write_text(f"""version: 1
platforms:
  telegram:
    api_token: {ref("TG_TOKEN", "telegram_token")}
  whatsapp:
    business_id: "1"
    phone_number: "+15550100000"
    phone_number_id: "106540352242922"
    access_token: {ref("WA_TOKEN", "whatsapp_token")}
    app_secret: {ref("WA_SECRET", "whatsapp_app_secret")}
    verify_token: {ref("WA_VERIFY", "whatsapp_verify_token")}
providers:
  openai:
    base_url: https://api.openai.com/v1
    model: gpt-4o-mini
    api_key: {ref("OPENAI_KEY", "openai_api_key")}
  local:
    base_url: http://127.0.0.1:11434/v1
    model: llama3.2
assistant:
  fallbacks: [local]
gateway:
  port: 0
  jwt_secret: {ref("JWT_SECRET", "gateway_jwt_secret")}
""", encoding="utf-8")
    (home / "config.yaml").chmod(0o600)


def populate(home: Path, rows: int, refs: str) -> None:
    """State as a used installation has it: secrets (audited), history rows."""
    env = env_for(home)
    names = {"telegram_token": "TG_TOKEN", "openai_api_key": "OPENAI_KEY",
             "whatsapp_token": "WA_TOKEN", "whatsapp_app_secret": "WA_SECRET",
             "whatsapp_verify_token": "WA_VERIFY", "gateway_jwt_secret": "JWT_SECRET"}
    for name, var in (names.items() if refs == "keyring" else [("unused", "WA_VERIFY")]):
        subprocess.run([*cli(), "secrets", "set", name], input=env[var], env=env, text=True,
                       check=True, capture_output=True, timeout=60)
    conn = sqlite3.connect(home / "state" / "state.db")
    with conn:
        conn.executemany(
            "INSERT INTO history (session, role, content, created_at) VALUES (?, ?, ?, ?)",
            [(f"telegram:{i % 50}", "user" if i % 2 else "assistant",
              "lorem ipsum dolor sit amet " * 8, time.time()) for i in range(rows)])
    conn.close()


def measure(argv: list[str], env: dict[str, str]) -> Sample:
    started = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = (time.perf_counter() - started) * 1000
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Sample(wall, usage.ru_maxrss / 1024, proc.returncode)


def bench(setup: str, home: Path, runs: int) -> Result:
    argv = [*cli(), "doctor", "--offline"]
    env = env_for(home)
    measure(argv, env)  # warm-up: page cache, .pyc files
    samples = [measure(argv, env) for _ in range(runs)]
    walls = [s.wall_ms for s in samples]
    median = statistics.median(walls)
    return Result(setup, round(median, 1), round(min(walls), 1), round(max(walls), 1),
                  round(max(s.peak_rss_mb for s in samples), 1), samples[-1].exit_code,
                  "pass" if median <= TARGET_MS else "over")


def run_all(runs: int, rows: int) -> list[Result]:
    results = []
    for setup in ("first run", "configured, env: secrets", "configured, keyring secrets"):
        home = Path(tempfile.mkdtemp(prefix="assistant-cli-doctor-bench-"))
        try:
            if setup != "first run":
                refs = "env" if "env:" in setup else "keyring"
                write_config(home, refs)
                populate(home, rows, refs)
            results.append(bench(setup, home, runs))
        finally:
            shutil.rmtree(home, ignore_errors=True)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10, help="timed runs per set-up (10)")
    parser.add_argument("--rows", type=int, default=20_000,
                        help="history rows in the state database (20000)")
    parser.add_argument("--json", action="store_true", help="print machine-readable results")
    args = parser.parse_args(argv)
    if not sys.platform.startswith("linux"):
        parser.error("needs Linux (wait4 rusage in kB)")
    results = run_all(args.runs, args.rows)
    if args.json:
        print(json.dumps({"python": platform.python_version(), "runs": args.runs,
                          "rows": args.rows, "target_ms": TARGET_MS,
                          "results": [asdict(r) for r in results]}, indent=2))
    else:
        print(f"assistant-cli doctor --offline · Python {platform.python_version()} · "
              f"{args.runs} runs · {args.rows} history rows · target median <= "
              f"{TARGET_MS:g} ms")
        print(f"{'set-up':<30} {'median':>9} {'min':>9} {'max':>9} {'peak RSS':>10} "
              f"{'exit':>5}  result")
        for r in results:
            print(f"{r.setup:<30} {r.median_ms:>6.0f} ms {r.min_ms:>6.0f} ms {r.max_ms:>6.0f} ms "
                  f"{r.peak_rss_mb:>7.1f} MB {r.exit_code:>5}  {r.status}")
    return 1 if any(r.status == "over" for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
