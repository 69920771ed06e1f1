"""Startup benchmark: CLI command latency, `serve` time-to-ready and idle memory, in one run."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.telegram_e2e import serve_command  # noqa: E402 - needs ROOT on sys.path
from tests.fakes.openai_server import FakeOpenAI  # noqa: E402

READY_RE = re.compile(r"assistant-cli ready · .*gateway: http://([^\s/]+):(\d+)")
READY_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0

# Design targets: name -> (limit, unit).
TARGETS: dict[str, float] = {
    "--version": 60.0,
    "--help": 110.0,
    "serve ready": 1000.0,
    "serve idle RSS": 70.0,
    "serve idle RSS + children": 70.0,
}


@dataclass
class Result:
    """One measured figure: its samples, summary and the design target it is held to."""

    name: str
    unit: str
    samples: list[float]
    target: float | None = None
    note: str = ""
    median: float = field(init=False)
    min: float = field(init=False)
    status: str = field(init=False)

    def __post_init__(self) -> None:
        self.samples = [round(x, 3) for x in self.samples]
        self.median = round(statistics.median(self.samples), 2)
        self.min = round(min(self.samples), 2)
        if self.target is None:
            self.status = ""
        else:
            self.status = "pass" if self.median <= self.target else "over"


def cli_command() -> tuple[list[str], str]:
    """The installed console script next to this interpreter, else `python -m assistant_cli`."""
    script = Path(sys.executable).parent / "assistant-cli"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)], str(script)
    return [sys.executable, "-m", "assistant_cli"], f"{sys.executable} -m assistant_cli"


def child_env(home: Path, **extra: str) -> dict[str, str]:
    """The caller's environment with assistant-cli pointed at a scratch home."""
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    for var in ("ASSISTANT_CLI_CONFIG", "ASSISTANT_CLI_KEYRING_PASSWORD"):
        env.pop(var, None)
    env.update(ASSISTANT_CLI_HOME=str(home), NO_COLOR="1", PYTHONUNBUFFERED="1", **extra)
    return env


def write_config(home: Path, base_url: str) -> None:
    (home / "config.yaml").write_text(
        "version: 1\n"
        "providers:\n"
        "  fake:\n"
        f"    base_url: {base_url}\n"
        "    model: fake-model\n"
        "    api_key: env:FAKE_OPENAI_KEY\n"
        "gateway:\n"
        "  port: 0\n",
        encoding="utf-8",
    )


def time_command(argv: list[str], env: dict[str, str], runs: int) -> list[float]:
    """Wall time in ms of `runs` fresh processes, after one untimed warm-up run."""
    samples: list[float] = []
    for i in range(runs + 1):
        started = time.perf_counter()
        done = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                              check=False, timeout=60)
        elapsed = (time.perf_counter() - started) * 1000
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}:\n"
                               f"{done.stderr.decode(errors='replace')}")
        if i > 0:
            samples.append(elapsed)
    return samples


def rss_mb(pid: int) -> float:
    """Resident set size of a process in MB (0 when it is gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="ascii", errors="replace")
    except OSError:
        return 0.0
    match = re.search(r"^VmRSS:\s+(\d+)\s+kB", status, re.MULTILINE)
    return int(match.group(1)) / 1024 if match else 0.0


def descendants(pid: int) -> Iterator[int]:
    """Every child, grandchild ... of a process, from /proc."""
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError, ValueError):
            children += [int(c) for c in (task / "children").read_text().split()]
    for child in children:
        yield child
        yield from descendants(child)


@dataclass
class ServeSample:
    ready_ms: float
    rss_mb: float
    children_mb: float
    children: int


def measure_serve(argv: list[str], env: dict[str, str], idle: float) -> ServeSample:
    """Spawn `serve`, time it to the first 200 from /readyz, then read its idle memory."""
    ready_line = threading.Event()
    address: list[tuple[str, int]] = []
    stderr_lines: list[str] = []

    started = time.perf_counter()
    proc = subprocess.Popen([*argv, "serve"], env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)

    def read_stderr() -> None:
        assert proc.stderr is not None
        for raw in proc.stderr:
            line = raw.decode("utf-8", "replace")
            stderr_lines.append(line)
            match = READY_RE.search(line)
            if match and not ready_line.is_set():
                address.append((match.group(1), int(match.group(2))))
                ready_line.set()
        ready_line.set()  # end of output: do not keep the poller waiting

    reader = threading.Thread(target=read_stderr, name="serve-stderr", daemon=True)
    reader.start()
    try:
        if not ready_line.wait(READY_TIMEOUT) or not address:
            raise RuntimeError("serve printed no ready line within "
                               f"{READY_TIMEOUT:.0f} s:\n{''.join(stderr_lines)[-2000:]}")
        host, port = address[0]
        url = f"http://{host}:{port}/readyz"
        deadline = started + READY_TIMEOUT
        while True:
            if answers_200(url):
                break
            if time.perf_counter() > deadline:
                raise RuntimeError(f"{url} did not answer 200 within {READY_TIMEOUT:.0f} s")
            time.sleep(0.005)
        ready_ms = (time.perf_counter() - started) * 1000
        time.sleep(idle)
        kids = list(descendants(proc.pid))
        return ServeSample(ready_ms, rss_mb(proc.pid), sum(rss_mb(k) for k in kids), len(kids))
    finally:
        stop(proc)
        reader.join(2)


def answers_200(url: str) -> bool:
    """True when GET url answers 200 (a 503 or a refused connection is False)."""
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, ConnectionError):
        return False


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM (stdin still open, as a service would be stopped), then SIGKILL if it hangs."""
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)
    if proc.stdin is not None:
        proc.stdin.close()


def tree_command(tree: Path) -> tuple[list[str], str]:
    """The CLI of another source tree (a git worktree of an older commit) on this
    interpreter's packages; see telegram_e2e.serve_command."""
    return serve_command(tree), f"{sys.executable} ({tree})"


def run_all(runs: int, serve_runs: int, idle: float, progress: Callable[[str], None],
            tree: Path | None = None) -> tuple[list[Result], str]:
    argv, described = cli_command() if tree is None else tree_command(tree)
    home = Path(tempfile.mkdtemp(prefix="assistant-cli-bench-"))
    results: list[Result] = []
    try:
        with FakeOpenAI() as fake:
            write_config(home, fake.base_url)
            env = child_env(home, FAKE_OPENAI_KEY=fake.api_key or "")
            for name, cmd, target in (
                ("python -c pass", [sys.executable, "-c", "pass"], None),
                ("--version", [*argv, "--version"], TARGETS["--version"]),
                ("--help", [*argv, "--help"], TARGETS["--help"]),
                ("config validate", [*argv, "config", "validate"], None),
            ):
                progress(f"timing {name} ({runs} runs)")
                results.append(Result(name, "ms", time_command(cmd, env, runs), target))
            progress(f"timing serve ({serve_runs} runs + 1 warm-up, {idle:g} s idle each)")
            measure_serve(argv, env, idle)  # warm-up: creates the state database
            samples = [measure_serve(argv, env, idle) for _ in range(serve_runs)]
            if fake.requests:
                raise RuntimeError("serve asked the model something while idle")
    finally:
        shutil.rmtree(home, ignore_errors=True)
    results.append(Result("serve ready", "ms", [s.ready_ms for s in samples],
                          TARGETS["serve ready"], "spawn → /readyz 200"))
    results.append(Result("serve idle RSS", "MB", [s.rss_mb for s in samples],
                          TARGETS["serve idle RSS"], f"{idle:g} s after ready"))
    if any(s.children for s in samples):
        results.append(Result(
            "serve idle RSS + children", "MB", [s.rss_mb + s.children_mb for s in samples],
            TARGETS["serve idle RSS + children"],
            f"{max(s.children for s in samples)} child(ren)"))
    return results, described


def render(results: list[Result], described: str, runs: int, serve_runs: int) -> None:
    header = (f"assistant-cli startup · {described} · Python {platform.python_version()} · "
              f"{runs} runs per command, {serve_runs} for serve (medians judged)")
    baseline = next((r.median for r in results if r.name == "python -c pass"), None)
    rows = [
        (r.name, f"{r.median:.1f} {r.unit}", f"{r.min:.1f} {r.unit}",
         f"x{r.median / baseline:.1f}" if baseline and r.unit == "ms" else "—",
         f"<= {r.target:g} {r.unit}" if r.target is not None else "—", r.status or "—", r.note)
        for r in results
    ]
    columns = ("measure", "median", "min", "vs python", "target", "result", "note")
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        print(header)
        widths = [max(len(str(row[i])) for row in (columns, *rows)) for i in range(len(columns))]
        for row in (columns, *rows):
            cells = (str(cell).ljust(w) for cell, w in zip(row, widths, strict=True))
            print("  ".join(cells).rstrip())
        return
    table = Table(*columns, caption=header, caption_justify="left")
    for row in rows:
        status = row[5]
        style = {"pass": "green", "over": "bold red"}.get(status, "")
        table.add_row(*row[:5], f"[{style}]{status}[/]" if style else status, row[6])
    # Piped output would be cut to 80 columns; a report reads better unwrapped.
    Console(highlight=False, width=None if sys.stdout.isatty() else 120).print(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10,
                        help="timed runs per CLI command (default 10)")
    parser.add_argument("--serve-runs", type=int, default=5,
                        help="timed `serve` starts (default 5)")
    parser.add_argument("--idle", type=float, default=1.0,
                        help="seconds to stay idle after ready before reading RSS (default 1)")
    parser.add_argument("--tree", type=Path, default=None,
                        help="run the CLI from this source tree (e.g. a worktree of an older "
                             "commit) with this interpreter's packages, via `python -c`")
    parser.add_argument("--json", action="store_true", help="print machine-readable results")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.serve_runs < 1:
        parser.error("--runs and --serve-runs must be at least 1")
    if not sys.platform.startswith("linux"):
        parser.error("needs Linux: memory is read from /proc")

    def progress(text: str) -> None:
        if not args.json:
            print(f"… {text}", file=sys.stderr, flush=True)

    results, described = run_all(args.runs, args.serve_runs, args.idle, progress,
                                 args.tree and args.tree.resolve())
    if args.json:
        print(json.dumps({
            "command": described,
            "python": platform.python_version(),
            "runs": args.runs,
            "serve_runs": args.serve_runs,
            "results": [asdict(r) for r in results],
        }, indent=2))
    else:
        render(results, described, args.runs, args.serve_runs)
    return 1 if any(r.status == "over" for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
