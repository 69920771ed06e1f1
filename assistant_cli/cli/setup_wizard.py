"""The first-run setup of `serve`: choose a provider, store its key, write config.yaml."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from assistant_cli.paths import Paths

if TYPE_CHECKING:
    from typing import TextIO

    from rich.console import Console


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


def first_run(paths: Paths) -> None:
    """Ask in the terminal, store the key in the keyring, write the config.

    Ctrl-C or Ctrl-D at any question cancels cleanly: nothing is written, exit 130.
    """
    from rich.console import Console

    out = Console(highlight=False)
    try:
        _ask_and_write(paths, out)
    except (KeyboardInterrupt, EOFError):
        out.print(f"\nSetup cancelled; {paths.config_file} was not written. Run "
                  "`assistant-cli serve` again to restart it, or `assistant-cli config init` "
                  "to write a starter config.")
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


def _ask_and_write(paths: Paths, out: Console) -> None:
    from rich.prompt import Confirm, IntPrompt, Prompt

    from assistant_cli.config.loader import atomic_write_text
    from assistant_cli.config.template import starter_config
    from assistant_cli.secrets.rotation import record, try_record
    from assistant_cli.secrets.store import SecretStore

    out.print(f"[bold]Welcome to assistant-cli.[/bold] No config at {paths.config_file} yet; "
              "let's make one.\n")
    for i, c in enumerate(CHOICES, 1):
        out.print(f"  {i}. {c.label}")
    pick = CHOICES[IntPrompt.ask("Which model provider?", choices=[
        str(i) for i in range(1, len(CHOICES) + 1)], default=1, console=out) - 1]
    base_url = ask_required("Base URL", pick.base_url or None, out)
    model = ask_required("Model", pick.model or None, out)
    needs_key = pick.needs_key
    if pick.name == "custom":
        needs_key = Confirm.ask("Does it need an API key?", default=True, console=out)
    ref = None
    if needs_key:
        secret_name = f"{pick.name}_api_key"
        store = SecretStore(paths)
        # Fails here, with the options, before the user types a key there is no place for.
        store.backend  # noqa: B018
        key = Prompt.ask("API key (input hidden)", password=True, console=out)
        store.set(secret_name, key.strip())
        record(store, "secret.set", secret_name, "ok", via="setup wizard")
        out.print(f"Stored the key in {store.backend_name} as [bold]{secret_name}[/bold].")
        ref = f"keyring:{secret_name}"
    atomic_write_text(paths.config_file, starter_config(pick.name, base_url, model, ref))
    # Without a keyring (a provider that needs no key) the config stands, with a warning.
    problem = try_record(paths, "config.init", str(paths.config_file), "ok",
                         via="setup wizard", provider=pick.name)
    if problem:
        out.print(f"warning: {problem}", markup=False)
    out.print(f"Wrote {paths.config_file}. Starting…\n")
