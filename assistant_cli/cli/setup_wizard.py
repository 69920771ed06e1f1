"""The first-run setup of `serve`: where secrets live, provider, key, model, a test call,
then config.yaml.

Answers (never the key) are kept in the state directory as they are typed, so a cancelled
or failed setup offers them again as defaults next time; the file goes once the config is
written.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant_cli.paths import Paths

if TYPE_CHECKING:
    from typing import TextIO

    from rich.console import Console

    from assistant_cli.cli.setup_store import SecretPlace


@dataclass(frozen=True)
class Choice:
    name: str
    label: str
    base_url: str
    model: str
    needs_key: bool


CHOICES = (
    Choice("openai", "OpenAI", "https://api.openai.com/v1", "gpt-4o-mini", True),
    Choice("openrouter", "OpenRouter", "https://openrouter.ai/api/v1", "openai/gpt-4o-mini", True),
    Choice("ollama", "Ollama on this machine (no key)", "http://127.0.0.1:11434/v1", "llama3.2",
           False),
    Choice("custom", "Another OpenAI-compatible server", "", "", True),
)


class Answers:
    """What the user typed so far (no secrets), saved after every answer."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        self.data: dict[str, Any] = data if isinstance(data, dict) else {}

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def keep(self, key: str, value: Any) -> Any:
        from assistant_cli.paths import atomic_write, ensure_dir

        self.data[key] = value
        ensure_dir(self.path.parent)
        atomic_write(self.path, json.dumps(self.data).encode())
        return value

    def forget(self) -> None:
        self.path.unlink(missing_ok=True)


def answers_file(paths: Paths) -> Path:
    return paths.state_dir / "first-run-answers.json"


def first_run(paths: Paths, port: int | None = None) -> None:
    """Ask in the terminal, check the answers against the server, write the config.

    Ctrl-C or Ctrl-D at any question cancels cleanly: no config is written, exit 130, and
    the answers so far are offered again next time.
    """
    from rich.console import Console

    out = Console(highlight=False)
    answers = Answers(answers_file(paths))
    try:
        _ask_and_write(paths, out, answers, port)
    except (KeyboardInterrupt, EOFError):
        out.print(f"\nSetup cancelled; {paths.config_file} was not written. Run "
                  "`assistant-cli serve` again to restart it (your answers are kept as "
                  "defaults), or `assistant-cli config init` to write a starter config.")
        raise SystemExit(130) from None


def ask_required(question: str, default: str | None, out: Console,
                 stream: TextIO | None = None) -> str:
    """Ask until there is an answer: an empty one would write `key:` (null) into the
    config, and `serve` would then fail at every start."""
    from rich.prompt import Prompt

    while True:
        answer = (Prompt.ask(question, default=default, console=out, stream=stream) or "").strip()
        if answer:
            return answer
        out.print("A value is needed here (it goes into config.yaml).")


def _ask_and_write(paths: Paths, out: Console, answers: Answers, port: int | None) -> None:
    from assistant_cli.cli.setup_store import choose_secret_place

    out.print(f"[bold]Welcome to assistant-cli.[/bold] No config at {paths.config_file} yet; "
              "let's make one.\n")
    place = choose_secret_place(paths, out)
    pick, base_url, needs_key = _ask_provider(out, answers)
    key, ref = _ask_key(out, answers, place, pick.name) if needs_key else (None, None)
    model = _ask_model(out, answers, pick, base_url, key)
    if not _tested(out, base_url, model, key):
        out.print(f"Nothing written. Run `assistant-cli serve` again: your answers are the "
                  f"defaults (kept in {answers.path}).", markup=False)
        raise SystemExit(1)
    _write(paths, out, place, pick.name, base_url, model, key, ref, port)
    answers.forget()


def _ask_provider(out: Console, answers: Answers) -> tuple[Choice, str, bool]:
    from rich.prompt import Confirm, IntPrompt

    for i, c in enumerate(CHOICES, 1):
        out.print(f"  {i}. {c.label}")
    number = answers.keep("provider", IntPrompt.ask(
        "Which model provider?", choices=[str(i) for i in range(1, len(CHOICES) + 1)],
        default=answers.get("provider", 1), console=out))
    pick = CHOICES[number - 1]
    same = answers.get("provider") == number and answers.get("base_url")
    base_url = answers.keep("base_url", ask_required(
        "Base URL", (answers.get("base_url") if same else None) or pick.base_url or None, out))
    needs_key = pick.needs_key
    if pick.name == "custom":
        needs_key = answers.keep("needs_key", Confirm.ask(
            "Does it need an API key?", default=answers.get("needs_key", True), console=out))
    return pick, base_url, needs_key


def _ask_key(out: Console, answers: Answers, place: SecretPlace,
             name: str) -> tuple[str, str]:
    from rich.prompt import Prompt

    if not place.uses_env:
        return Prompt.ask("API key (input hidden)", password=True, console=out).strip(), \
            f"keyring:{name}_api_key"
    var = answers.keep("env_var", Prompt.ask(
        "Environment variable that will hold the key",
        default=answers.get("env_var", f"{name.upper()}_API_KEY"), console=out).strip())
    key = os.environ.get(var, "")
    if not key:
        key = Prompt.ask(f"API key, for this run only (input hidden; export {var} for later "
                         "starts)", password=True, console=out).strip()
        os.environ[var] = key  # serve resolves env:VAR right after the setup
    return key, f"env:{var}"


def _ask_model(out: Console, answers: Answers, pick: Choice, base_url: str,
               key: str | None) -> str:

    from assistant_cli.cli.setup_check import SHOWN_MODELS, list_models

    models, problem = list_models(base_url, key)
    default = answers.get("model") or pick.model or None
    if models:
        shown = models[:SHOWN_MODELS]
        out.print(f"{base_url} offers {len(models)} model(s):", markup=False)
        for i, m in enumerate(shown, 1):
            out.print(f"  {i}. {m}", markup=False)
        if default not in models:
            default = shown[0]
    else:
        out.print(f"Could not list the server's models ({problem}); type the model name.",
                  markup=False)
    typed = ask_required("Model (a number above, or a name)" if models else "Model",
                         default, out)
    if typed.isdigit() and models and 1 <= int(typed) <= min(len(models), SHOWN_MODELS):
        typed = models[int(typed) - 1]
    return str(answers.keep("model", typed))


def _tested(out: Console, base_url: str, model: str, key: str | None) -> bool:
    """One tiny test call; on failure the user decides (e.g. offline now: keep anyway)."""
    from rich.prompt import Confirm

    from assistant_cli.cli.setup_check import test_call

    out.print(f"Testing {model} with one tiny request...", markup=False)
    result = test_call(base_url, model, key)
    if result.ok:
        out.print(f"[green]ok[/green]: {result.detail}")
        return True
    out.print(f"[red]The test call failed[/red]: {result.detail}")
    return Confirm.ask("Write the config anyway (for example, offline right now)?",
                       default=False, console=out)


def _write(paths: Paths, out: Console, place: SecretPlace, name: str, base_url: str,
           model: str, key: str | None, ref: str | None, port: int | None) -> None:
    from assistant_cli.config.loader import atomic_write_text
    from assistant_cli.config.template import starter_config
    from assistant_cli.secrets.rotation import record, try_record

    if key and place.store is not None and ref:
        secret_name = ref.removeprefix("keyring:")
        place.store.set(secret_name, key)
        record(place.store, "secret.set", secret_name, "ok", via="setup wizard")
        out.print(f"Stored the key in {place.label} as [bold]{secret_name}[/bold].")
    atomic_write_text(paths.config_file, starter_config(name, base_url, model, ref,
                                                        port=8080 if port is None else port))
    # Without a keyring (a provider that needs no key) the config stands, with a warning.
    problem = try_record(paths, "config.init", str(paths.config_file), "ok",
                         via="setup wizard", provider=name)
    if problem:
        out.print(f"warning: {problem}", markup=False)
    out.print(f"Wrote {paths.config_file}. Starting…\n")
