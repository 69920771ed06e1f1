"""The benchmarks' fake OpenAI model in a process of its own.

The Telegram benchmarks used to run both fakes (Bot API and model) and the load in their
own process, so the three shared one interpreter lock: a slow answer from the harness then
counted as serve's latency. Here the model gets its own interpreter (and its CPU time is
measured apart from serve's and the load's):

    with model_server(token_delay=0.005, tokens=10) as model:
        model.base_url, model.api_key, model.model   # for serve's config
        model.cpu_seconds()                          # the model process's CPU so far

`model_server(..., in_process=True)` runs it in this process instead, as before, to measure
what sharing the interpreter costs.

Run as a script it prints one JSON line (base_url, api_key, model) once it listens, answers
`re:<last user message>` followed by `tokens - 1` filler tokens, and stops when its standard
input closes.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


class ModelProcess:
    """A FakeOpenAI in a child process: `re:<message>` plus filler tokens."""

    def __init__(self, *, token_delay: float = 0.0, tokens: int = 1) -> None:
        self.token_delay, self.tokens = token_delay, tokens
        self.proc: subprocess.Popen[str] | None = None
        self.base_url = self.api_key = self.model = ""

    def __enter__(self) -> ModelProcess:
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--token-delay",
             str(self.token_delay), "--tokens", str(self.tokens)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(5)
            raise SystemExit("the fake model process did not start")
        info = json.loads(line)
        self.base_url, self.api_key, self.model = info["base_url"], info["api_key"], info["model"]
        return self

    def cpu_seconds(self) -> float:
        from benchmarks.telegram_e2e import cpu_seconds

        return cpu_seconds(self.proc.pid) if self.proc is not None else 0.0

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.proc is None:
            return
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


@dataclass
class Model:
    """Where serve finds the fake model, and the CPU time it has used (0: in this process)."""

    base_url: str
    api_key: str
    model: str
    cpu_seconds: Callable[[], float]


def replier(tokens: int) -> Callable[[list[dict[str, Any]]], str]:
    """`re:<last message>` and `tokens - 1` filler tokens: the answer benchmarks look for."""
    filler = "w " * (tokens - 1)

    def reply(messages: list[dict[str, Any]]) -> str:
        return f"re:{messages[-1]['content']} {filler}".strip()

    return reply


@contextmanager
def model_server(*, token_delay: float = 0.0, tokens: int = 1,
                 in_process: bool = False) -> Iterator[Model]:
    """The fake model, in a child process (default) or in this one."""
    if in_process:
        from tests.fakes.openai_server import FakeOpenAI

        with FakeOpenAI(token_delay=token_delay) as fake:
            fake.reply = replier(tokens)
            yield Model(fake.base_url, fake.api_key or "", fake.model, lambda: 0.0)
        return
    with ModelProcess(token_delay=token_delay, tokens=tokens) as child:
        yield Model(child.base_url, child.api_key, child.model, child.cpu_seconds)


def main(argv: list[str] | None = None) -> int:
    from tests.fakes.openai_server import FakeOpenAI

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--token-delay", type=float, default=0.0)
    parser.add_argument("--tokens", type=int, default=1)
    args = parser.parse_args(argv)
    with FakeOpenAI(token_delay=args.token_delay) as model:
        model.reply = replier(args.tokens)
        print(json.dumps({"base_url": model.base_url, "api_key": model.api_key or "",
                          "model": model.model}), flush=True)
        sys.stdin.read()  # until the parent closes it
    return 0


if __name__ == "__main__":
    sys.exit(main())
