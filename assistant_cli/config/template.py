"""The starter config.yaml written by `config init` and by the first-run setup."""

from __future__ import annotations

STARTER = """\
# assistant-cli configuration. Every key is documented in config.example.yaml.
# Secrets are references: keyring:NAME (stored with `assistant-cli secrets set NAME`)
# or env:NAME (read from the environment). Never write a secret here.

providers:
  {name}:
    kind: openai                      # OpenAI-compatible chat completions API
    base_url: {base_url}
    model: {model}
{api_key_line}
assistant:
  provider: {name}
  system_prompt: "You are a helpful, concise assistant."
  history_length: 20                  # earlier turns sent with each question

platforms:
  # With no platform enabled, `assistant-cli serve` chats in this terminal.
  console: {{}}
  # telegram:
  #   api_token: keyring:telegram_token
  #   mode: polling
  #   dm_policy: pairing

gateway:
  host: 127.0.0.1                     # loopback only; health checks and webhooks
  port: {port}
"""


def starter_config(
    name: str = "openai",
    base_url: str = "https://api.openai.com/v1",
    model: str = "gpt-4o-mini",
    api_key_ref: str | None = "keyring:openai_api_key",
    port: int = 8080,
) -> str:
    """Render the starter config for one provider."""
    api_key_line = f"    api_key: {api_key_ref}\n" if api_key_ref else ""
    return STARTER.format(name=name, base_url=base_url, model=model, api_key_line=api_key_line,
                          port=port)
